package protocol

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/fxamacker/cbor/v2"
)

// DecodeCBOR decodes a Smithy RPCv2 CBOR request body into a generated input
// shape; the shapes' json tags name the CBOR map keys.
func DecodeCBOR(body []byte, into any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := cbor.Unmarshal(body, into); err != nil {
		return ErrSerialization("malformed CBOR: %v", err)
	}
	return nil
}

// WriteCBOR writes a Smithy RPCv2 CBOR response.
func WriteCBOR(w http.ResponseWriter, out any) {
	body, err := cbor.Marshal(out)
	if err != nil {
		WriteCBORError(w, ServerError("InternalFailure", "encode response: %v", err))
		return
	}
	writeCBORBody(w, http.StatusOK, body)
}

// WriteCBORError writes an RPCv2 CBOR error with __type and message, and the
// query-error header the CloudWatch clients read.
func WriteCBORError(w http.ResponseWriter, e *Error) {
	body, _ := cbor.Marshal(map[string]any{"__type": e.Code, "message": e.Message})
	w.Header().Set("x-amzn-query-error", e.Code+";"+faultOf(e))
	writeCBORBody(w, e.Status, body)
}

func writeCBORBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}
