package mappedcsv

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// Economy is one row of a World Bank bulk download's
// Metadata_Country_*.csv.
type Economy struct {
	Code        string // ISO 3166-1 alpha-3, or a World Bank aggregate code
	Name        string // TableName
	Region      string // World Bank region; empty for an aggregate
	IncomeGroup string
}

// Aggregate reports whether the economy is one of the World Bank's
// aggregates (regions, income and lending groups, the world): the metadata
// gives those no region.
func (e Economy) Aggregate() bool { return e.Region == "" }

// IndicatorMeta is the row of a World Bank bulk download's
// Metadata_Indicator_*.csv.
type IndicatorMeta struct {
	Code, Name, SourceNote, SourceOrganization string
}

// ReadEconomies reads a Metadata_Country_*.csv file.
func ReadEconomies(r io.Reader) ([]Economy, error) {
	rows, err := readMeta(r, "Country Code", "Region", "IncomeGroup", "TableName")
	if err != nil {
		return nil, fmt.Errorf("worldbank country metadata: %w", err)
	}
	out := make([]Economy, len(rows))
	for i, c := range rows {
		out[i] = Economy{Code: c[0], Region: c[1], IncomeGroup: c[2], Name: c[3]}
	}
	return out, nil
}

// ReadIndicatorMeta reads a Metadata_Indicator_*.csv file.
func ReadIndicatorMeta(r io.Reader) ([]IndicatorMeta, error) {
	rows, err := readMeta(r, "INDICATOR_CODE", "INDICATOR_NAME", "SOURCE_NOTE", "SOURCE_ORGANIZATION")
	if err != nil {
		return nil, fmt.Errorf("worldbank indicator metadata: %w", err)
	}
	out := make([]IndicatorMeta, len(rows))
	for i, c := range rows {
		out[i] = IndicatorMeta{Code: c[0], Name: c[1], SourceNote: c[2], SourceOrganization: c[3]}
	}
	return out, nil
}

// readMeta reads a small metadata CSV and returns, per row, the cells of
// the named columns; a missing column, an empty first column and a short
// row are errors naming the line.
func readMeta(r io.Reader, cols ...string) ([][]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 {
		return nil, errors.New("body is empty")
	} else if t[0] == '<' {
		return nil, errors.New("body is HTML or XML, not CSV")
	}
	cr := csv.NewReader(bytes.NewReader(data))
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	cr.FieldsPerRecord = len(header)
	idx := make([]int, len(cols))
	for i, c := range cols {
		idx[i] = slices.Index(header, c)
		if idx[i] < 0 {
			return nil, fmt.Errorf("column %q is missing from the header", c)
		}
	}
	var out [][]string
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		row := make([]string, len(cols))
		for i, j := range idx {
			row[i] = rec[j]
		}
		if row[0] == "" {
			return nil, fmt.Errorf("line %d, column %q: is empty", line, cols[0])
		}
		out = append(out, row)
	}
}

// BulkDataFile returns the data CSV of a World Bank bulk download: body
// itself when it is not a ZIP archive, else the archive's API_*.csv member
// (the metadata members Metadata_Country_* and Metadata_Indicator_* are
// skipped). An archive without exactly one data member is an error.
func BulkDataFile(body io.Reader) (io.Reader, error) {
	br := bufio.NewReader(body)
	magic, _ := br.Peek(4)
	if !bytes.Equal(magic, []byte("PK\x03\x04")) {
		return br, nil
	}
	data, err := io.ReadAll(br)
	if err != nil {
		return nil, fmt.Errorf("worldbank bulk zip: %w", err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("worldbank bulk zip: %w", err)
	}
	var found []*zip.File
	for _, f := range zr.File {
		if name := path.Base(f.Name); strings.HasPrefix(name, "API_") && strings.HasSuffix(name, ".csv") {
			found = append(found, f)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("worldbank bulk zip: holds %d API_*.csv data files, want 1", len(found))
	}
	rc, err := found[0].Open()
	if err != nil {
		return nil, fmt.Errorf("worldbank bulk zip member %s: %w", found[0].Name, err)
	}
	member, err := io.ReadAll(io.LimitReader(rc, maxBulkMember+1))
	if err = errors.Join(err, rc.Close()); err != nil {
		return nil, fmt.Errorf("worldbank bulk zip member %s: %w", found[0].Name, err)
	}
	if len(member) > maxBulkMember {
		return nil, fmt.Errorf("worldbank bulk zip member %s: larger than %d bytes", found[0].Name, maxBulkMember)
	}
	return bytes.NewReader(member), nil
}

// maxBulkMember bounds an unpacked data member (an indicator's file is
// about 150 kB), so that a hostile archive cannot fill memory.
const maxBulkMember = 256 << 20
