package logstore

import "testing"

// FuzzDecodeEvents feeds arbitrary payloads to the event decoder, which
// must reject them with an error, never panic.
func FuzzDecodeEvents(f *testing.F) {
	block, info := encodeBlock(nil, []storedEvent{{seq: 3, timestamp: 10, ingestion: 20, message: "hello"}, {seq: 4, timestamp: 9, ingestion: 20, message: ""}})
	_, dec := codec()
	raw, err := dec.DecodeAll(block[blockHeaderSize:], nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw, uint32(2))
	f.Add([]byte{0xff, 0xff, 0xff}, uint32(1))
	f.Add([]byte{}, uint32(5))
	f.Fuzz(func(t *testing.T, raw []byte, count uint32) {
		info.count = count % 1000
		if evs, err := decodeEvents(raw, info); err == nil && uint32(len(evs)) != info.count {
			t.Fatalf("decoded %d events, header says %d", len(evs), info.count)
		}
		decodeBlock(append(append([]byte(nil), block[:blockHeaderSize]...), raw...), info)
	})
}
