package sigv4

import (
	"strings"
	"testing"
)

// benchRequest is a typical SDK-signed PostToConnection with a 100-byte
// body, as the server sees it.
func benchRequest(b *testing.B) (verify func() error) {
	body := strings.Repeat("x", 100)
	r := signedServerRequest(b, testCreds, testRegion, "/dev/@connections/R1kmxc2VNjMCFIA%3D", body)
	v := newTestVerifier(t0)
	bodyBytes := []byte(body)
	verify = func() error { return v.Verify(r, bodyBytes) }
	if err := verify(); err != nil {
		b.Fatal(err)
	}
	return verify
}

func BenchmarkVerify(b *testing.B) {
	verify := benchRequest(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := verify(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	verify := benchRequest(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := verify(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
