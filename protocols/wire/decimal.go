package wire

import "math"

// Decimal coding after ALP (Afroozeh, Kuffo, Boncz, SIGMOD 2023): a float64
// that was born as a short decimal (21.3, 0.05, 1013.25) is, after scaling by
// 10^e and rounding, a small integer d such that float64(d)/10^e gives back
// the same bits. IEEE division by an exact power of ten is correctly rounded,
// so the decode is exact whenever the check at encode time passes.

const (
	maxExponent = 18      // 10^18 is exact in float64 and in int64
	maxDigit    = 1 << 53 // |d| below this converts to float64 exactly
)

var pow10 = [maxExponent + 1]float64{
	1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
}

// noExponent marks a value that no exponent codes exactly.
const noExponent = 0xff

// minExponent returns the smallest e for which v codes exactly as a decimal,
// or noExponent.
func minExponent(v float64) uint8 {
	for e := 0; e <= maxExponent; e++ {
		if _, ok := toDigit(v, e); ok {
			return uint8(e)
		}
	}
	return noExponent
}

// toDigit scales v by 10^e and reports whether the result decodes to the same
// bits.
func toDigit(v float64, e int) (int64, bool) {
	s := v * pow10[e]
	if !(s > -maxDigit && s < maxDigit) { // also rejects NaN and Inf
		return 0, false
	}
	d := math.Round(s)
	if math.Float64bits(d/pow10[e]) != math.Float64bits(v) {
		return 0, false // includes -0, which decodes as +0
	}
	return int64(d), true
}

func fromDigit(d int64, e int) float64 { return float64(d) / pow10[e] }

// chooseExponent picks the exponent that minimises an estimate of the coded
// size: each extra decimal costs about 3.3 bits per coded value, each
// exception about 9 bytes. hist[e] counts values whose smallest exponent is e;
// hist[maxExponent+1] counts values no exponent codes.
func chooseExponent(hist *[maxExponent + 2]int, n int) (exp int, exceptions int) {
	best, bestCost := 0, math.Inf(1)
	covered := 0
	for e := 0; e <= maxExponent; e++ {
		covered += hist[e]
		exc := n - covered
		cost := float64(covered)*3.32*float64(e) + float64(exc)*72
		if cost < bestCost {
			best, bestCost, exceptions = e, cost, exc
		}
		if covered == n {
			break
		}
	}
	return best, exceptions
}
