package backfill

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/ounce-data/ounce/services/ingest"
)

// Progress display modes, the values of --progress.
const (
	ProgressAuto = "auto" // a bar when stderr is a terminal, else log lines
	ProgressBar  = "bar"
	ProgressLog  = "log"
	ProgressNone = "none"
)

// barWidth is the number of cells of the bar.
const barWidth = 24

// display shows a run's progress: a bar redrawn in place on a terminal, or
// a log line every interval. update is called on the run's goroutine; it
// draws at most every redraw (bar) or interval (log), and at every phase
// change, so a run reporting every read costs little.
type display struct {
	mode     string
	w        io.Writer
	log      zerolog.Logger
	feed     string
	now      func() time.Time
	redraw   time.Duration // between bar frames
	interval time.Duration // between log lines
	start    time.Time
	last     time.Time
	phase    ingest.Phase
	p        ingest.Progress
	drawn    bool // a bar frame is on the line
}

func newDisplay(mode string, w io.Writer, log zerolog.Logger, feed string, interval time.Duration, now func() time.Time) *display {
	return &display{mode: mode, w: w, log: log, feed: feed, now: now, redraw: 100 * time.Millisecond, interval: interval, start: now()}
}

// update takes a progress report.
func (d *display) update(p ingest.Progress) {
	d.p = p
	t := d.now()
	changed := p.Phase != d.phase
	d.phase = p.Phase
	switch d.mode {
	case ProgressBar:
		if changed || t.Sub(d.last) >= d.redraw {
			d.last = t
			d.drawBar(t)
		}
	case ProgressLog:
		if changed || t.Sub(d.last) >= d.interval {
			d.last = t
			d.logLine(t)
		}
	}
}

// finish draws the last state and ends the bar's line.
func (d *display) finish() {
	t := d.now()
	switch d.mode {
	case ProgressBar:
		if d.drawn {
			d.drawBar(t)
			fmt.Fprintln(d.w)
		}
	case ProgressLog:
		if d.phase != "" && t != d.last {
			d.logLine(t)
		}
	}
}

// percent is how far the run is, 0..100, and whether it is known: bytes
// read of the total while fetching and parsing, observations acknowledged
// of those parsed while publishing.
func percent(p ingest.Progress) (float64, bool) {
	switch p.Phase {
	case ingest.PhaseDone:
		return 100, true
	case ingest.PhasePublish:
		if p.ObservationsTotal > 0 {
			return 100 * float64(p.Observations) / float64(p.ObservationsTotal), true
		}
	case ingest.PhaseFetch, ingest.PhaseParse:
		if p.BytesTotal > 0 {
			return min(100, 100*float64(p.Bytes)/float64(p.BytesTotal)), true
		}
	}
	return 0, false
}

func (d *display) drawBar(t time.Time) {
	p := d.p
	elapsed := t.Sub(d.start)
	var b strings.Builder
	fmt.Fprintf(&b, "\r%s %-7s ", d.feed, p.Phase)
	if pct, ok := percent(p); ok {
		full := int(pct / 100 * barWidth)
		fmt.Fprintf(&b, "[%s%s] %3.0f%% ", strings.Repeat("#", full), strings.Repeat("-", barWidth-full), pct)
	} else {
		fmt.Fprintf(&b, "[%s]  ?%% ", strings.Repeat(" ", barWidth))
	}
	fmt.Fprintf(&b, "%s rows  %s", count(p.Rows), count(p.Observations))
	if p.ObservationsTotal > 0 {
		fmt.Fprintf(&b, "/%s", count(p.ObservationsTotal))
	}
	b.WriteString(" obs  ")
	b.WriteString(byteSize(p.Bytes))
	if p.BytesTotal >= 0 {
		b.WriteString("/" + byteSize(p.BytesTotal))
	}
	fmt.Fprintf(&b, "  %s  %s\x1b[K", rate(d.rateOf(p), elapsed), clock(elapsed))
	_, _ = io.WriteString(d.w, b.String()) // a lost frame is redrawn by the next
	d.drawn = true
}

func (d *display) logLine(t time.Time) {
	p := d.p
	elapsed := t.Sub(d.start)
	ev := d.log.Info().Str("feed", d.feed).Str("phase", string(p.Phase))
	if pct, ok := percent(p); ok {
		ev = ev.Str("done", fmt.Sprintf("%.0f%%", pct))
	}
	ev.Int("rows", p.Rows).Int("observations", p.Observations).Int("observations_total", p.ObservationsTotal).
		Int64("bytes", p.Bytes).Int64("bytes_total", p.BytesTotal).
		Str("rate", rate(d.rateOf(p), elapsed)).Dur("elapsed_seconds", elapsed.Round(time.Millisecond)).Msg("backfill progress")
}

// rateOf is what the rate counts: bytes while fetching, observations after.
func (d *display) rateOf(p ingest.Progress) rateCount {
	if p.Phase == ingest.PhaseFetch {
		return rateCount{n: float64(p.Bytes), bytes: true}
	}
	return rateCount{n: float64(p.Observations)}
}

type rateCount struct {
	n     float64
	bytes bool
}

func rate(c rateCount, elapsed time.Duration) string {
	if elapsed <= 0 {
		return "-"
	}
	per := c.n / elapsed.Seconds()
	if c.bytes {
		return byteSize(int64(per)) + "/s"
	}
	return count(int(per)) + " obs/s"
}

// count is n in a short form: 950, 12.3k, 4.1M.
func count(n int) string {
	switch {
	case n < 1000:
		return fmt.Sprint(n)
	case n < 1_000_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	default:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	}
}

// byteSize is n bytes in a short form: 512 B, 3.4 MB (powers of 1000).
func byteSize(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1_000_000:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1_000_000_000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	}
}

// clock is d as mm:ss, or h:mm:ss from an hour.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%02d:%02d", s/60, s%60)
}
