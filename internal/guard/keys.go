package guard

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// Key is one accepted API key: its id and the SHA-256 of its value. The
// gateway never needs the value itself.
type Key struct {
	ID     string
	SHA256 [sha256.Size]byte
}

// KeyFromValue returns the Key for a key's value.
func KeyFromValue(id, value string) Key {
	return Key{ID: id, SHA256: sha256.Sum256([]byte(value))}
}

// KeyFromHex returns the Key for a hex SHA-256.
func KeyFromHex(id, hexSum string) (Key, error) {
	var k Key
	b, err := hex.DecodeString(hexSum)
	if err != nil || len(b) != sha256.Size {
		return k, fmt.Errorf("key %q: want the key's SHA-256 as 64 hex digits", id)
	}
	k.ID = id
	copy(k.SHA256[:], b)
	return k, nil
}

// maxKeysFileBytes bounds a keys file.
const maxKeysFileBytes = 64 << 20

// ReadKeysFile reads a file of keys, one per line: "ID SHA256HEX", blank
// lines and lines starting with # ignored. Errors name the line.
func ReadKeysFile(path string) ([]Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > maxKeysFileBytes {
		return nil, fmt.Errorf("%s: %d bytes, more than %d", path, fi.Size(), maxKeysFileBytes)
	}
	var keys []Key
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%s:%d: want \"ID SHA256HEX\"", path, n)
		}
		k, err := KeyFromHex(fields[0], fields[1])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, n, err)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return keys, nil
}

// keySet finds a key's id by the SHA-256 of its value.
type keySet map[[sha256.Size]byte]string

func newKeySet(keys []Key) (keySet, error) {
	s := make(keySet, len(keys))
	ids := make(map[string]bool, len(keys))
	for _, k := range keys {
		if ids[k.ID] {
			return nil, fmt.Errorf("API key id %q is listed twice", k.ID)
		}
		if other, dup := s[k.SHA256]; dup {
			return nil, fmt.Errorf("API keys %q and %q are the same key", other, k.ID)
		}
		ids[k.ID] = true
		s[k.SHA256] = k.ID
	}
	return s, nil
}

// lookup returns the id of value, if it is a key. Looking up by hash
// leaks nothing useful through timing: an attacker learns at most how
// the SHA-256 of a guess compares with a key's, which does not help to
// find the key.
func (s keySet) lookup(value string) (string, bool) {
	id, ok := s[sha256.Sum256([]byte(value))]
	return id, ok
}
