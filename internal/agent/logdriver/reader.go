package logdriver

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Reader reads the records of a log file from an offset, for shippers that
// follow the file and remember how far they got.
type Reader struct {
	f      *os.File
	br     *bufio.Reader
	offset int64 // offset of the next unread byte of the file
}

// NewReader opens the log file at path for reading from offset (0, or an
// offset a previous Next returned).
func NewReader(path string, offset int64) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := &Reader{f: f}
	if err := r.seek(offset); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

func (r *Reader) seek(offset int64) error {
	if _, err := r.f.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	r.offset = offset
	r.br = bufio.NewReaderSize(r.f, 64*1024)
	return nil
}

// Next returns the next record and the offset just past it. At the end of
// the file, and while the last line is still being written (no newline yet),
// it returns io.EOF and stays where it is, so a later call continues once
// the line is complete. Complete lines that are not records (a line torn by a
// crash and then continued) are skipped.
func (r *Reader) Next() (Record, int64, error) {
	for {
		line, err := r.br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(line) > 0 { // torn: read it again from its start next time
				if serr := r.seek(r.offset); serr != nil {
					return Record{}, r.offset, serr
				}
			}
			return Record{}, r.offset, io.EOF
		}
		if err != nil {
			return Record{}, r.offset, fmt.Errorf("read log: %w", err)
		}
		r.offset += int64(len(line))
		var rec Record
		if json.Unmarshal(line, &rec) == nil && rec.Stream != "" {
			return rec, r.offset, nil
		}
	}
}

// Close closes the file.
func (r *Reader) Close() error { return r.f.Close() }
