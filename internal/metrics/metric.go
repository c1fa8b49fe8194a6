package metrics

// Type is the type of a metric family, as # TYPE names it.
type Type uint8

// Types of a family.
const (
	CounterType Type = iota
	GaugeType
	HistogramType
	SummaryType
)

func (t Type) String() string {
	switch t {
	case CounterType:
		return "counter"
	case GaugeType:
		return "gauge"
	case HistogramType:
		return "histogram"
	case SummaryType:
		return "summary"
	}
	return "untyped"
}

// Family is a metric family as gathered: its name, help text, type and
// series.
type Family struct {
	Name    string
	Help    string
	Type    Type
	Samples []Sample
}

// Label is one label of a series.
type Label struct {
	Name, Value string
}

// Sample is one series of a family: its labels and its value (Value for a
// counter or gauge; Count, Sum and Buckets for a histogram; Count, Sum and
// Quantiles for a summary).
type Sample struct {
	Labels    []Label
	Value     float64
	Count     uint64
	Sum       float64
	Buckets   []Bucket   // cumulative, by upper bound; +Inf is Count
	Quantiles []Quantile // summary
}

// Bucket is one bucket of a histogram: how many observations were at most
// Upper.
type Bucket struct {
	Upper float64
	Count uint64
}

// Quantile is one quantile of a summary.
type Quantile struct {
	Quantile, Value float64
}

// Collector is anything a Registry gathers: it appends its families to dst
// and returns it. Every call must give the same family names (a family
// with no series is fine).
type Collector interface {
	Collect(dst []Family) []Family
}

// Opts name a metric and say what it counts.
type Opts struct {
	Name string
	Help string
}

// HistogramOpts are Opts with the upper bounds of the buckets, in
// increasing order (+Inf is implied).
type HistogramOpts struct {
	Name    string
	Help    string
	Buckets []float64
}

// ExponentialBuckets returns count upper bounds, the first start and each
// next one factor times the last.
func ExponentialBuckets(start, factor float64, count int) []float64 {
	if count < 1 || start <= 0 || factor <= 1 {
		panic("metrics: ExponentialBuckets needs count ≥ 1, start > 0 and factor > 1")
	}
	b := make([]float64, count)
	for i := range b {
		b[i] = start
		start *= factor
	}
	return b
}
