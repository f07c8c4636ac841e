package model

import "strconv"

// Limits on numbers in a validated message. The validator compares numbers
// exactly (math/big), so 1e1000000 costs tens of milliseconds each, and an
// exponent beyond what big.Rat accepts makes it fail. Realistic messages
// stay far inside: float64 reaches 1e308, a 256-bit integer has 78 digits.
const (
	maxNumberDigits   = 100 // digits before the exponent
	maxNumberExponent = 400 // |decimal exponent|
)

// checkLimits scans msg once, without recursion or allocation, for nesting
// deeper than maxDepth and for numbers beyond the limits above. It reads any
// bytes: brackets and digits inside strings are skipped, and on input that is
// not JSON it merely measures what it sees. It returns what is exceeded, or "".
func checkLimits(msg []byte, maxDepth int) string {
	depth := 0
	for i := 0; i < len(msg); {
		switch c := msg[i]; {
		case c == '"':
			i++
			for i < len(msg) && msg[i] != '"' {
				if msg[i] == '\\' {
					i++
				}
				i++
			}
			i++
		case c == '[' || c == '{':
			depth++
			if depth > maxDepth {
				return "nested deeper than " + strconv.Itoa(maxDepth) + " levels"
			}
			i++
		case c == ']' || c == '}':
			depth--
			i++
		case c == '-' || isDigit(c):
			end, digits, exp := scanNumber(msg, i)
			if digits > maxNumberDigits {
				return "a number has more than " + strconv.Itoa(maxNumberDigits) + " digits"
			}
			if exp > maxNumberExponent {
				return "a number's exponent is beyond ±" + strconv.Itoa(maxNumberExponent)
			}
			i = end
		default:
			i++
		}
	}
	return ""
}

// scanNumber reads a number-like run at msg[i:]: its end (always > i), the
// count of mantissa digits, and the magnitude of its exponent (capped).
func scanNumber(msg []byte, i int) (end, digits, exp int) {
	j := i
	if msg[j] == '-' {
		j++
	}
	for j < len(msg) && (isDigit(msg[j]) || msg[j] == '.') {
		if msg[j] != '.' {
			digits++
		}
		j++
	}
	if j < len(msg) && (msg[j] == 'e' || msg[j] == 'E') {
		j++
		if j < len(msg) && (msg[j] == '+' || msg[j] == '-') {
			j++
		}
		for j < len(msg) && isDigit(msg[j]) {
			if exp <= maxNumberExponent {
				exp = exp*10 + int(msg[j]-'0')
			}
			j++
		}
	}
	if j == i {
		j++
	}
	return j, digits, exp
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
