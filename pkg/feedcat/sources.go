package feedcat

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ounce-data/ounce/pkg/indicators"
)

// CheckSources reports every source an indicator's source order names
// that cannot hold its values: a feed id not declared in feeds, or a feed
// that reads another catalogue file. Partner sources (partner:<id>) are
// not checked here: partners are registered at run time.
func CheckSources(cat *indicators.Catalogue, feeds []Feed) error {
	var errs []error
	names := make([]string, 0, len(cat.Files))
	for name := range cat.Files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for i, ind := range cat.Files[name].Indicators {
			for _, src := range ind.Sources {
				if strings.HasPrefix(src, "partner:") {
					continue
				}
				f, ok := ByID(feeds, src)
				switch {
				case !ok:
					errs = append(errs, fmt.Errorf("catalogue %s: indicators[%d] (%s): sources names %q, which is not a feed of schemas/feeds", name, i, ind.Code, src))
				case f.Catalogue != name:
					errs = append(errs, fmt.Errorf("catalogue %s: indicators[%d] (%s): sources names feed %s, which reads catalogue %s, not %s", name, i, ind.Code, src, f.Catalogue, name))
				}
			}
		}
	}
	return errors.Join(errs...)
}
