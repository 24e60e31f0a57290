package logstore

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// segment is one append-only file of blocks in a stream's directory, named
// after the first sequence number it may hold (%016x.seg). Only the newest
// segment of a stream receives appends; older ones are sealed.
type segment struct {
	path     string
	firstSeq uint64
	blocks   []blockInfo
	size     int64
	// r reads the file. Segments replaced by Maintain are not closed
	// explicitly, since a reader may still hold a snapshot of them; the
	// runtime closes the file once nothing refers to it.
	r *os.File
}

// lastSeq is the last sequence number in the segment (it has blocks).
func (sg *segment) lastSeq() uint64 { return sg.blocks[len(sg.blocks)-1].lastSeq }

func segmentName(firstSeq uint64) string { return fmt.Sprintf("%016x.seg", firstSeq) }

// listSegments returns the segment files of dir in sequence order, and
// removes leftovers of interrupted rewrites (*.tmp).
func listSegments(dir string) ([]*segment, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var segs []*segment
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return nil, err
			}
			continue
		}
		hex, ok := strings.CutSuffix(name, ".seg")
		if !ok {
			continue
		}
		first, err := strconv.ParseUint(hex, 16, 64)
		if err != nil {
			continue
		}
		segs = append(segs, &segment{path: filepath.Join(dir, name), firstSeq: first})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].firstSeq < segs[j].firstSeq })
	return segs, nil
}

// load reads the segment's block headers into its index. With verify, it
// also checks every payload's checksum. At the first incomplete or corrupt
// block it truncates the file there: such a block was never acknowledged,
// because an append returns only after its block is fully written and
// synced (a torn tail after a crash).
func (sg *segment) load(verify bool) error {
	f, err := os.OpenFile(sg.path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	end := st.Size()
	var off int64
	header := make([]byte, blockHeaderSize)
	for off < end {
		info, err := readBlockInfo(f, header, off, end, verify)
		if err != nil {
			slog.Warn("logstore: truncating torn segment tail", "path", sg.path, "offset", off, "size", end, "reason", err)
			if err := f.Truncate(off); err != nil {
				return err
			}
			if err := f.Sync(); err != nil {
				return err
			}
			break
		}
		sg.blocks = append(sg.blocks, info)
		off += info.size
	}
	sg.size = off
	return nil
}

// readBlockInfo reads the header at off and checks that the block fits
// before end (and, with verify, its checksum).
func readBlockInfo(f *os.File, header []byte, off, end int64, verify bool) (blockInfo, error) {
	if end-off < blockHeaderSize {
		return blockInfo{}, io.ErrUnexpectedEOF
	}
	if _, err := f.ReadAt(header, off); err != nil {
		return blockInfo{}, err
	}
	info, crc, err := parseHeader(header, off)
	if err != nil {
		return blockInfo{}, err
	}
	if off+info.size > end {
		return blockInfo{}, io.ErrUnexpectedEOF
	}
	if verify {
		block := make([]byte, info.size)
		if _, err := f.ReadAt(block, off); err != nil {
			return blockInfo{}, err
		}
		if err := checkCRC(block, crc); err != nil {
			return blockInfo{}, err
		}
	}
	return info, nil
}

// readBlock reads and decodes one block of an open segment file.
func readBlock(f *os.File, info blockInfo) ([]storedEvent, error) {
	buf := make([]byte, info.size)
	if _, err := f.ReadAt(buf, info.offset); err != nil {
		return nil, fmt.Errorf("read block at %d of %s: %w", info.offset, f.Name(), err)
	}
	return decodeBlock(buf, info)
}

// syncDir makes a directory's entries (created, renamed or removed files)
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// writeSegmentFile writes blocks of events as a new segment at path,
// atomically: through a temporary file, synced, then renamed.
func writeSegmentFile(path string, runs [][]storedEvent) ([]blockInfo, int64, error) {
	var (
		buf    []byte
		blocks []blockInfo
	)
	for _, run := range runs {
		start := len(buf)
		var info blockInfo
		buf, info = encodeBlock(buf, run)
		info.offset = int64(start)
		blocks = append(blocks, info)
	}
	tmp := path + ".tmp"
	if err := writeFileSync(tmp, buf); err != nil {
		return nil, 0, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, 0, err
	}
	return blocks, int64(len(buf)), syncDir(filepath.Dir(path))
}

func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
