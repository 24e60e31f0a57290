package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"sync"
	"unsafe"

	"github.com/klauspost/compress/zstd"
)

// A block is the unit of writing, compression and time indexing: a fixed
// header followed by a zstd-compressed run of events.
//
//	offset size field
//	0      4    magic "KLB1"
//	4      4    compressed payload length
//	8      4    raw payload length
//	12     4    event count
//	16     8    first sequence number
//	24     8    last sequence number
//	32     8    smallest timestamp (ms)
//	40     8    largest timestamp (ms)
//	48     8    largest ingestion time (ms)
//	56     4    CRC-32C of bytes 0..56 and the compressed payload
//
// The raw payload holds, per event: uvarint seq delta (from the previous
// event, the first from firstSeq), uvarint timestamp - minTs, varint
// ingestion time - maxIngest, uvarint message length, message bytes.
const (
	blockMagic      = "KLB1"
	blockHeaderSize = 60
	// maxBlockRaw bounds a block's raw size so one read stays small.
	maxBlockRaw = 1 << 20
	// mergedBlockRaw is the raw size Maintain aims at when it merges the
	// small blocks of small appends.
	mergedBlockRaw = 256 << 10
)

// MaxMessageBytes is the largest message Append accepts (AWS's event size
// limit is 1 MB; the API layer applies its exact rule first).
const MaxMessageBytes = 1 << 20

var (
	crcTable = crc32.MakeTable(crc32.Castagnoli)

	errBadBlock = errors.New("bad block")

	zstdOnce sync.Once
	zstdEnc  *zstd.Encoder
	zstdDec  *zstd.Decoder
)

// codec returns the shared zstd encoder and decoder; EncodeAll and
// DecodeAll are safe for concurrent use.
func codec() (*zstd.Encoder, *zstd.Decoder) {
	zstdOnce.Do(func() {
		var err error
		zstdEnc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic(fmt.Sprintf("zstd encoder: %v", err))
		}
		zstdDec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0))
		if err != nil {
			panic(fmt.Sprintf("zstd decoder: %v", err))
		}
	})
	return zstdEnc, zstdDec
}

// blockInfo is a block's header as kept in memory: the time index.
type blockInfo struct {
	offset    int64 // of the header, in the segment file
	size      int64 // header plus payload
	rawLen    uint32
	count     uint32
	firstSeq  uint64
	lastSeq   uint64
	minTs     int64
	maxTs     int64
	maxIngest int64
}

// overlaps reports whether the block may hold events in [start, end);
// end <= 0 means no upper bound.
func (b blockInfo) overlaps(start, end int64) bool {
	return b.maxTs >= start && (end <= 0 || b.minTs < end)
}

// storedEvent is an event as the engine keeps it.
type storedEvent struct {
	seq       uint64
	timestamp int64
	ingestion int64
	message   string
}

// encodeBlock appends one block holding events (in seq order, at least
// one) to dst and returns dst and the block's info (offset relative to the
// start of the block).
func encodeBlock(dst []byte, events []storedEvent) ([]byte, blockInfo) {
	info := blockInfo{count: uint32(len(events)), firstSeq: events[0].seq, lastSeq: events[len(events)-1].seq,
		minTs: events[0].timestamp, maxTs: events[0].timestamp, maxIngest: events[0].ingestion}
	for _, e := range events {
		info.minTs = min(info.minTs, e.timestamp)
		info.maxTs = max(info.maxTs, e.timestamp)
		info.maxIngest = max(info.maxIngest, e.ingestion)
	}
	raw := make([]byte, 0, rawSize(events))
	prev := info.firstSeq
	for _, e := range events {
		raw = binary.AppendUvarint(raw, e.seq-prev)
		raw = binary.AppendUvarint(raw, uint64(e.timestamp-info.minTs))
		raw = binary.AppendVarint(raw, e.ingestion-info.maxIngest)
		raw = binary.AppendUvarint(raw, uint64(len(e.message)))
		raw = append(raw, e.message...)
		prev = e.seq
	}
	enc, _ := codec()
	start := len(dst)
	dst = append(dst, make([]byte, blockHeaderSize)...)
	dst = enc.EncodeAll(raw, dst)
	info.rawLen = uint32(len(raw))
	h := dst[start : start+blockHeaderSize]
	copy(h, blockMagic)
	binary.LittleEndian.PutUint32(h[4:], uint32(len(dst)-start-blockHeaderSize))
	binary.LittleEndian.PutUint32(h[8:], info.rawLen)
	binary.LittleEndian.PutUint32(h[12:], info.count)
	binary.LittleEndian.PutUint64(h[16:], info.firstSeq)
	binary.LittleEndian.PutUint64(h[24:], info.lastSeq)
	binary.LittleEndian.PutUint64(h[32:], uint64(info.minTs))
	binary.LittleEndian.PutUint64(h[40:], uint64(info.maxTs))
	binary.LittleEndian.PutUint64(h[48:], uint64(info.maxIngest))
	crc := crc32.Update(crc32.Checksum(h[:56], crcTable), crcTable, dst[start+blockHeaderSize:])
	binary.LittleEndian.PutUint32(h[56:], crc)
	info.size = int64(len(dst) - start)
	return dst, info
}

// rawSize is an upper bound of the raw payload size of events.
func rawSize(events []storedEvent) int {
	n := 0
	for _, e := range events {
		n += 4*binary.MaxVarintLen64 + len(e.message)
	}
	return n
}

// splitForBlocks cuts events into runs whose raw size stays under limit
// (a single larger event gets a block of its own).
func splitForBlocks(events []storedEvent, limit int) [][]storedEvent {
	var runs [][]storedEvent
	start, size := 0, 0
	for i, e := range events {
		n := len(e.message) + 16
		if i > start && size+n > limit {
			runs = append(runs, events[start:i])
			start, size = i, 0
		}
		size += n
	}
	return append(runs, events[start:])
}

// parseHeader decodes a block header; offset is where it was read.
func parseHeader(h []byte, offset int64) (blockInfo, uint32, error) {
	if len(h) < blockHeaderSize || string(h[:4]) != blockMagic {
		return blockInfo{}, 0, errBadBlock
	}
	payload := binary.LittleEndian.Uint32(h[4:])
	info := blockInfo{
		offset:    offset,
		size:      blockHeaderSize + int64(payload),
		rawLen:    binary.LittleEndian.Uint32(h[8:]),
		count:     binary.LittleEndian.Uint32(h[12:]),
		firstSeq:  binary.LittleEndian.Uint64(h[16:]),
		lastSeq:   binary.LittleEndian.Uint64(h[24:]),
		minTs:     int64(binary.LittleEndian.Uint64(h[32:])),
		maxTs:     int64(binary.LittleEndian.Uint64(h[40:])),
		maxIngest: int64(binary.LittleEndian.Uint64(h[48:])),
	}
	if info.count == 0 || info.lastSeq < info.firstSeq || info.rawLen > maxBlockRaw+2*MaxMessageBytes {
		return blockInfo{}, 0, errBadBlock
	}
	return info, binary.LittleEndian.Uint32(h[56:]), nil
}

// checkCRC verifies a whole block (header and payload).
func checkCRC(block []byte, want uint32) error {
	got := crc32.Update(crc32.Checksum(block[:56], crcTable), crcTable, block[blockHeaderSize:])
	if got != want {
		return errBadBlock
	}
	return nil
}

// decodeBlock verifies and decodes a whole block read from disk.
func decodeBlock(block []byte, info blockInfo) ([]storedEvent, error) {
	_, crc, err := parseHeader(block, info.offset)
	if err != nil {
		return nil, err
	}
	if err := checkCRC(block, crc); err != nil {
		return nil, fmt.Errorf("block at offset %d: checksum mismatch: %w", info.offset, err)
	}
	_, dec := codec()
	raw, err := dec.DecodeAll(block[blockHeaderSize:], make([]byte, 0, info.rawLen))
	if err != nil {
		return nil, fmt.Errorf("block at offset %d: %w", info.offset, err)
	}
	return decodeEvents(raw, info)
}

// decodeEvents parses a raw payload. Messages are substrings of raw,
// viewed as a string without a copy: raw is freshly decompressed, owned
// here, and never written again.
func decodeEvents(raw []byte, info blockInfo) ([]storedEvent, error) {
	var text string
	if len(raw) > 0 {
		text = unsafe.String(&raw[0], len(raw))
	}
	events := make([]storedEvent, 0, info.count)
	seq, pos := info.firstSeq, 0
	for i := uint32(0); i < info.count; i++ {
		var fields [4]int64
		for f := range fields {
			var n int
			if f == 2 {
				fields[f], n = binary.Varint(raw[pos:])
			} else {
				var u uint64
				u, n = binary.Uvarint(raw[pos:])
				fields[f] = int64(u)
			}
			if n <= 0 {
				return nil, fmt.Errorf("block at offset %d: event %d: %w", info.offset, i, errBadBlock)
			}
			pos += n
		}
		msgLen := int(fields[3])
		if msgLen < 0 || pos+msgLen > len(raw) {
			return nil, fmt.Errorf("block at offset %d: event %d: %w", info.offset, i, errBadBlock)
		}
		seq += uint64(fields[0])
		events = append(events, storedEvent{seq: seq, timestamp: info.minTs + fields[1],
			ingestion: info.maxIngest + fields[2], message: text[pos : pos+msgLen]})
		pos += msgLen
	}
	return events, nil
}
