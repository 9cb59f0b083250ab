// Command detzip writes a zip archive whose bytes depend only on the files'
// names, modes and contents: fixed timestamps, no extra fields, stored in the
// order given. build.sh uses it so that the same source gives the same zip.
//
//	detzip OUT.zip NAME=PATH [NAME=PATH ...]
package main

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// epoch is the fixed modification time of every entry (zip cannot store
// dates before 1980).
var epoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: detzip OUT.zip NAME=PATH [NAME=PATH ...]")
		os.Exit(2)
	}
	if err := write(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "detzip: %v\n", err)
		os.Exit(1)
	}
}

func write(out string, entries []string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	for _, e := range entries {
		name, path, ok := strings.Cut(e, "=")
		if !ok {
			return fmt.Errorf("%q: want NAME=PATH", e)
		}
		if err := add(zw, name, path); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func add(zw *zip.Writer, name, path string) error {
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	info, err := src.Stat()
	if err != nil {
		return err
	}
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: epoch}
	// Executable bits matter: SCF and Lambda run the binary straight from the zip.
	h.SetMode(info.Mode().Perm() | 0o444)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, src)
	return err
}
