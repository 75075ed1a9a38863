package verify

import (
	"bytes"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

func dearmor(b []byte) ([]byte, error) {
	blk, err := armor.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: armored signature: %v", ErrBadSignature, err)
	}
	return io.ReadAll(blk.Body)
}
