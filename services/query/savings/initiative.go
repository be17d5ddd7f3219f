package savings

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/ounce-data/ounce/pkg/observation"
)

// Methods of estimating the avoided outcomes (docs/savings.md).
const (
	MethodModelled = "modelled" // ex ante, from a cohort
	MethodITS      = "its"      // interrupted time series of the target indicator
	MethodDiD      = "did"      // difference-in-differences against comparison places
	MethodSynth    = "synth"    // synthetic control from the comparison places (SyntheticControl)
)

// Methods lists the methods in the order messages name them.
var Methods = []string{MethodModelled, MethodITS, MethodDiD, MethodSynth}

// Initiative is the initiative document of docs/savings.md, the body of
// POST /v1/initiatives. Fields a method does not need may be left out;
// optional fields are nil until WithDefaults fills them.
type Initiative struct {
	ID             string      `json:"id"`
	Name           string      `json:"name,omitempty"`
	Domain         string      `json:"domain,omitempty"`
	Indicator      string      `json:"indicator,omitempty"`
	Geo            string      `json:"geo,omitempty"`
	StartYear      int         `json:"start_year"`
	EndYear        *int        `json:"end_year"`
	Method         string      `json:"method,omitempty"`
	ComparisonGeos []string    `json:"comparison_geos,omitempty"`
	Population     *Population `json:"population,omitempty"`
	Scale          *Num        `json:"scale,omitempty"`
	UnitCosts      []UnitCost  `json:"unit_costs,omitempty"`
	Costs          []Cost      `json:"costs,omitempty"`
	Cohort         *Cohort     `json:"cohort,omitempty"`
	CBA            CBA         `json:"cba"`

	// Which stored series the document reads (docs/savings.md, "Choosing
	// the series"): the target's breakdown and source, nil and "" for the
	// total (or the only breakdown) in the preferred source; the comparison
	// places' the same as the target's unless named apart.
	Dims             observation.Dims `json:"dims,omitempty"`
	Source           string           `json:"source,omitempty"`
	ComparisonDims   observation.Dims `json:"comparison_dims,omitempty"`
	ComparisonSource string           `json:"comparison_source,omitempty"`

	// DonorWeights pins the weights of method synth (place → weight, each
	// at least 0, summing to 1); nil to fit them.
	DonorWeights map[string]Num `json:"donor_weights,omitempty"`
}

// Population turns an avoided amount of the indicator into cases: either a
// population indicator read for the same place and year, or a number.
type Population struct {
	Indicator string `json:"indicator,omitempty"`
	Value     *Num   `json:"value,omitempty"`

	// The population indicator's breakdown and source, as the target's.
	Dims   observation.Dims `json:"dims,omitempty"`
	Source string           `json:"source,omitempty"`
}

// UnitCost is what one avoided case saves an agency, in a currency at the
// prices of a year.
type UnitCost struct {
	Agency    string `json:"agency"`
	Amount    Num    `json:"amount"`
	Currency  string `json:"currency"`
	PriceYear int    `json:"price_year"`
}

// Cost is what the initiative costs in a calendar year. Currency may be left
// out: it is the unit costs' currency.
type Cost struct {
	Year     int    `json:"year"`
	Amount   Num    `json:"amount"`
	Currency string `json:"currency,omitempty"`
}

// Cohort is who the modelled method counts: size people, of whom a share
// engages, and of those a share succeeds.
type Cohort struct {
	Size       Num `json:"size"`
	Engagement Num `json:"engagement"`
	Success    Num `json:"success"`
}

// CBA holds the cost-benefit adjustments; nil fields take their defaults.
type CBA struct {
	Deadweight   *Num      `json:"deadweight,omitempty"`
	Attribution  *Num      `json:"attribution,omitempty"`
	Displacement *Num      `json:"displacement,omitempty"`
	OBBenefits   *Num      `json:"ob_benefits,omitempty"`
	OBCosts      *Num      `json:"ob_costs,omitempty"`
	Lag          *int      `json:"lag,omitempty"`
	Persistence  *int      `json:"persistence,omitempty"`
	DropOff      *Num      `json:"drop_off,omitempty"`
	Horizon      *int      `json:"horizon,omitempty"`
	Discount     *Discount `json:"discount,omitempty"`
}

// Defaults of the optional fields, applied by WithDefaults and shown in a
// report's inputs.
const (
	DefaultMethod       = MethodModelled
	DefaultDeadweight   = "0"
	DefaultAttribution  = "1"
	DefaultDisplacement = "0"
	DefaultOBBenefits   = "0"
	DefaultOBCosts      = "0"
	DefaultLag          = 0
	DefaultPersistence  = 1
	DefaultDropOff      = "0"
	DefaultHorizon      = 10
)

// Limits of the document's fields.
const (
	MinYear          = 1800
	MaxYear          = 2200
	MaxHorizon       = 500
	MaxLag           = 100
	MaxUnitCosts     = 100
	MaxCosts         = 1000
	MaxComparisonGeo = 50
	maxNameLen       = 200
	maxAgencyLen     = 64
	// maxAmount bounds every amount and count, far above any real one, so
	// that no product of them leaves float64's range when shown.
	maxAmount = "1e15"
)

var (
	idRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)  // as an observation's initiative
	codeRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`) // as an observation's indicator
	domainRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	ccyRE    = regexp.MustCompile(`^[A-Z]{3}$`)
)

// WithDefaults returns a copy of in with every optional field that has a
// default filled in: method, every cba field, and each cost's currency (the
// first unit cost's). scale has no fixed default: Compute takes it from the
// indicator's unit when it is left out (ScaleForUnit).
func (in Initiative) WithDefaults() Initiative {
	out := in
	if out.Method == "" {
		out.Method = DefaultMethod
	}
	c := out.CBA
	setNum := func(p **Num, v string) {
		if *p == nil {
			n := mustNum(v)
			*p = &n
		}
	}
	setInt := func(p **int, v int) {
		if *p == nil {
			*p = &v
		}
	}
	setNum(&c.Deadweight, DefaultDeadweight)
	setNum(&c.Attribution, DefaultAttribution)
	setNum(&c.Displacement, DefaultDisplacement)
	setNum(&c.OBBenefits, DefaultOBBenefits)
	setNum(&c.OBCosts, DefaultOBCosts)
	setNum(&c.DropOff, DefaultDropOff)
	setInt(&c.Lag, DefaultLag)
	setInt(&c.Persistence, DefaultPersistence)
	setInt(&c.Horizon, DefaultHorizon)
	if c.Discount == nil {
		d := GreenBook
		c.Discount = &d
	}
	out.CBA = c
	if len(out.UnitCosts) > 0 && len(out.Costs) > 0 {
		out.Costs = slices.Clone(out.Costs)
		for i := range out.Costs {
			if out.Costs[i].Currency == "" {
				out.Costs[i].Currency = out.UnitCosts[0].Currency
			}
		}
	}
	return out
}

// Validate returns nil, or an *InputError (code invalid_initiative) listing
// every problem of the document with its field path, including what its own
// method (default modelled) needs.
func (in Initiative) Validate() error {
	method := in.Method
	if method == "" {
		method = DefaultMethod
	}
	return in.validateFor(method)
}

// ValidateFor is Validate for a method other than the document's own, as
// GET /v1/initiatives/{id}/savings?method= asks: the document's method field
// is checked for its form only.
func (in Initiative) ValidateFor(method string) error {
	if !slices.Contains(Methods, method) {
		return unknownMethod(method)
	}
	return in.validateFor(method)
}

func unknownMethod(method string) *InputError {
	return inputError(CodeUnknownMethod, "method", "unknown method %q; use %s", method, strings.Join(Methods, ", "))
}

func (in Initiative) validateFor(method string) error {
	var ps problems
	d := in.WithDefaults()
	switch {
	case in.ID == "":
		ps.add("id", "is required: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	case !idRE.MatchString(in.ID):
		ps.add("id", "%q must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", in.ID)
	}
	if len(in.Name) > maxNameLen {
		ps.add("name", "has %d characters; at most %d", len(in.Name), maxNameLen)
	}
	if in.Domain != "" && !domainRE.MatchString(in.Domain) {
		ps.add("domain", "%q must be 1-32 lower-case letters, digits, '_' or '-', such as health", in.Domain)
	}
	needsData := method == MethodITS || method == MethodDiD || method == MethodSynth
	checkCode := func(field, code string, required bool) {
		switch {
		case code == "" && required:
			ps.add(field, "is required for method %s: give the code of an indicator in the catalogue", method)
		case code != "" && !codeRE.MatchString(code):
			ps.add(field, "%q must be 1-128 letters, digits, '.', '_' or '-'", code)
		}
	}
	checkCode("indicator", in.Indicator, needsData)
	switch {
	case in.Geo == "" && needsData:
		ps.add("geo", "is required for method %s: give the place, such as GBR", method)
	case in.Geo != "" && !observation.ValidGeo(in.Geo):
		ps.add("geo", "%q must be 1-64 letters, digits, '.', '_', ':' or '-', such as GBR", in.Geo)
	}
	checkYear := func(field string, y int) bool {
		if y < MinYear || y > MaxYear {
			ps.add(field, "must be a year between %d and %d, got %d", MinYear, MaxYear, y)
			return false
		}
		return true
	}
	startOK := true
	if in.StartYear == 0 {
		ps.add("start_year", "is required: the calendar year the initiative started (year 0)")
		startOK = false
	} else {
		startOK = checkYear("start_year", in.StartYear)
	}
	if in.EndYear != nil && checkYear("end_year", *in.EndYear) && startOK && *in.EndYear < in.StartYear {
		ps.add("end_year", "%d is before start_year %d", *in.EndYear, in.StartYear)
	}
	if in.Method != "" && !slices.Contains(Methods, in.Method) {
		ps.add("method", "must be one of %s, got %q", strings.Join(Methods, ", "), in.Method)
	}
	in.validateComparison(&ps, method)
	in.validateDonorWeights(&ps)
	in.validatePopulation(&ps, needsData)
	in.validateSeries(&ps, method)
	if in.Scale != nil && (in.Scale.Sign() <= 0 || in.Scale.cmp(maxAmount) > 0) {
		ps.add("scale", "must be greater than 0 and at most %s, got %s: the factor that turns one unit of the indicator into cases per person (0.01 for a percentage)", maxAmount, in.Scale)
	}
	currency := in.validateUnitCosts(&ps)
	horizon := *d.CBA.Horizon
	in.validateCosts(&ps, currency, horizon, startOK)
	if in.Cohort == nil {
		if method == MethodModelled {
			ps.add("cohort", "is required for method modelled: give size, engagement and success")
		}
	} else {
		checkAmount(&ps, "cohort.size", in.Cohort.Size)
		checkShare(&ps, "cohort.engagement", in.Cohort.Engagement)
		checkShare(&ps, "cohort.success", in.Cohort.Success)
	}
	in.CBA.validate(&ps)
	return ps.err(CodeInvalidInitiative)
}

func (in Initiative) validateComparison(ps *problems, method string) {
	if len(in.ComparisonGeos) == 0 && method == MethodDiD {
		ps.add("comparison_geos", "is required for method did: give at least one comparison place, such as [\"FRA\", \"DEU\"]")
	}
	if len(in.ComparisonGeos) > MaxComparisonGeo {
		ps.add("comparison_geos", "has %d places; at most %d", len(in.ComparisonGeos), MaxComparisonGeo)
		return
	}
	seen := map[string]int{}
	for i, g := range in.ComparisonGeos {
		field := fmt.Sprintf("comparison_geos[%d]", i)
		switch j, dup := seen[g]; {
		case !observation.ValidGeo(g):
			ps.add(field, "%q must be 1-64 letters, digits, '.', '_', ':' or '-', such as FRA", g)
		case dup:
			ps.add(field, "%q is listed twice (also comparison_geos[%d])", g, j)
		case g == in.Geo:
			ps.add(field, "%q is the initiative's own place; compare with other places", g)
		}
		seen[g] = i
	}
}

func (in Initiative) validatePopulation(ps *problems, needed bool) {
	p := in.Population
	switch {
	case p == nil:
		if needed {
			ps.add("population", "is required for methods its, did and synth: give {\"indicator\": code} or {\"value\": number}")
		}
	case p.Indicator != "" && p.Value != nil:
		ps.add("population", "give exactly one of indicator and value, not both")
	case p.Indicator == "" && p.Value == nil:
		ps.add("population", "give exactly one of indicator and value")
	case p.Indicator != "" && !codeRE.MatchString(p.Indicator):
		ps.add("population.indicator", "%q must be 1-128 letters, digits, '.', '_' or '-'", p.Indicator)
	case p.Value != nil && (p.Value.Sign() <= 0 || p.Value.cmp(maxAmount) > 0):
		ps.add("population.value", "must be greater than 0 and at most %s, got %s", maxAmount, p.Value)
	}
}

// validateUnitCosts checks the unit costs and returns their currency (the
// first one's), "" when there is none.
func (in Initiative) validateUnitCosts(ps *problems) string {
	if len(in.UnitCosts) == 0 {
		ps.add("unit_costs", "give at least one unit cost: {\"agency\", \"amount\", \"currency\", \"price_year\"}")
		return ""
	}
	if len(in.UnitCosts) > MaxUnitCosts {
		ps.add("unit_costs", "has %d entries; at most %d", len(in.UnitCosts), MaxUnitCosts)
		return ""
	}
	currency := ""
	for i, u := range in.UnitCosts {
		f := fmt.Sprintf("unit_costs[%d]", i)
		switch {
		case strings.TrimSpace(u.Agency) == "":
			ps.add(f+".agency", "is required: who the avoided case saves money, such as NHS")
		case len(u.Agency) > maxAgencyLen:
			ps.add(f+".agency", "has %d characters; at most %d", len(u.Agency), maxAgencyLen)
		}
		checkAmount(ps, f+".amount", u.Amount)
		if checkCurrency(ps, f+".currency", u.Currency) {
			switch {
			case currency == "":
				currency = u.Currency
			case u.Currency != currency:
				ps.add(f+".currency", "%s differs from %s of unit_costs[0]; amounts are not converted between currencies: give every amount in one currency", u.Currency, currency)
			}
		}
		if u.PriceYear < MinYear || u.PriceYear > MaxYear {
			ps.add(f+".price_year", "must be a year between %d and %d, got %d", MinYear, MaxYear, u.PriceYear)
		}
	}
	return currency
}

func (in Initiative) validateCosts(ps *problems, currency string, horizon int, startOK bool) {
	if len(in.Costs) > MaxCosts {
		ps.add("costs", "has %d entries; at most %d", len(in.Costs), MaxCosts)
		return
	}
	last := in.StartYear + horizon
	for i, c := range in.Costs {
		f := fmt.Sprintf("costs[%d]", i)
		switch {
		case !startOK:
		case c.Year < in.StartYear:
			ps.add(f+".year", "%d is before start_year %d", c.Year, in.StartYear)
		case c.Year > last && horizon >= 1 && horizon <= MaxHorizon:
			ps.add(f+".year", "%d is after %d, the last year of the horizon (start_year + cba.horizon); raise cba.horizon or leave the cost out", c.Year, last)
		}
		checkAmount(ps, f+".amount", c.Amount)
		if c.Currency != "" && checkCurrency(ps, f+".currency", c.Currency) && currency != "" && c.Currency != currency {
			ps.add(f+".currency", "%s differs from %s of unit_costs[0]; amounts are not converted between currencies: give every amount in one currency", c.Currency, currency)
		}
	}
}

func (c CBA) validate(ps *problems) {
	share := func(field string, n *Num) {
		if n != nil {
			checkShare(ps, field, *n)
		}
	}
	share("cba.deadweight", c.Deadweight)
	share("cba.attribution", c.Attribution)
	share("cba.displacement", c.Displacement)
	share("cba.ob_benefits", c.OBBenefits)
	share("cba.drop_off", c.DropOff)
	if c.OBCosts != nil {
		for i, e := range c.OBCosts.Ends() {
			if e.Sign() < 0 || e.cmp("10") > 0 {
				ps.add(endField("cba.ob_costs", *c.OBCosts, i), "must be between 0 and 10 (a share: 0.05 raises costs by 5 %%), got %s", e)
			}
		}
	}
	horizonOK := true
	if c.Horizon != nil && (*c.Horizon < 1 || *c.Horizon > MaxHorizon) {
		ps.add("cba.horizon", "must be between 1 and %d years, got %d", MaxHorizon, *c.Horizon)
		horizonOK = false
	}
	horizon := DefaultHorizon
	if c.Horizon != nil {
		horizon = *c.Horizon
	}
	if c.Lag != nil {
		switch {
		case *c.Lag < 0 || *c.Lag > MaxLag:
			ps.add("cba.lag", "must be between 0 and %d years, got %d", MaxLag, *c.Lag)
		case horizonOK && 1+*c.Lag > horizon:
			ps.add("cba.lag", "benefits would start in year %d, after the last year of the horizon (%d); lower cba.lag or raise cba.horizon", 1+*c.Lag, horizon)
		}
	}
	if c.Persistence != nil && (*c.Persistence < 1 || *c.Persistence > MaxHorizon) {
		ps.add("cba.persistence", "must be between 1 and %d years, got %d", MaxHorizon, *c.Persistence)
	}
	if c.Discount != nil && !c.Discount.GreenBook {
		for i, e := range c.Discount.Rate.Ends() {
			if e.Sign() < 0 || e.cmp("1") >= 0 {
				ps.add(endField("cba.discount", c.Discount.Rate, i), "a flat rate must be at least 0 and below 1 (0.035 for 3.5 %%), got %s; or give \"green_book\"", e)
			}
		}
	}
}

// endField names the part of an uncertain input a bound is checked on:
// field itself for a plain number, field.low or field.high for a range.
func endField(field string, n Num, i int) string {
	if n.Range() == nil {
		return field
	}
	return field + [...]string{".low", ".high"}[i]
}

func checkShare(ps *problems, field string, n Num) {
	for i, e := range n.Ends() {
		if e.Sign() < 0 || e.cmp("1") > 0 {
			ps.add(endField(field, n, i), "must be between 0 and 1, got %s", e)
		}
	}
}

func checkAmount(ps *problems, field string, n Num) {
	for i, e := range n.Ends() {
		if e.Sign() < 0 || e.cmp(maxAmount) > 0 {
			ps.add(endField(field, n, i), "must be between 0 and %s, got %s", maxAmount, e)
		}
	}
}

func checkCurrency(ps *problems, field, c string) bool {
	switch {
	case c == "":
		ps.add(field, "is required: an ISO 4217 code such as GBP")
	case !ccyRE.MatchString(c):
		ps.add(field, "%q must be an ISO 4217 code of three capital letters, such as GBP", c)
	default:
		if _, ok := MinorUnits(c); !ok {
			ps.add(field, "%q is not an ISO 4217 currency code", c)
			return false
		}
		return true
	}
	return false
}

// MarshalJSON writes "green_book" or the flat rate.
func (d Discount) MarshalJSON() ([]byte, error) {
	if d.GreenBook {
		return []byte(`"green_book"`), nil
	}
	return d.Rate.MarshalJSON()
}

// UnmarshalJSON reads "green_book" or a number.
func (d *Discount) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if s != "green_book" {
			return fmt.Errorf("discount %q: give \"green_book\" or a flat rate such as 0.035", s)
		}
		*d = GreenBook
		return nil
	}
	var n Num
	if err := n.UnmarshalJSON(b); err != nil {
		return fmt.Errorf("discount: give \"green_book\" or a flat rate such as 0.035: %w", err)
	}
	*d = Discount{Rate: n}
	return nil
}
