// goprog: a Go program for test_go.py. The Go runtime makes raw system
// calls from goroutines spread over many OS threads; the transcript must be
// identical natively and under vos.
//
//	goprog files DIR    concurrent file I/O in DIR
//	goprog net DIR      TCP echo over 127.0.0.1, a log written to DIR
//	goprog exec DIR     os/exec from 8 goroutines at once: /bin/cat of a file
//	                    in DIR with a pipe, and itself (argv[0], or
//	                    os.Executable) with an inherited fd of DIR
//	goprog child DIR    (run by exec) reads the inherited fd 3
//	goprog signals DIR  os/signal delivery, and garbage collections that
//	                    must preempt a call-free loop (SIGURG), while
//	                    goroutines write files in DIR
package main

// Built two ways by test_go.py: with goprog_cgo.go (cgo: dynamically
// linked, threads made by pthread_create) and alone with CGO_ENABLED=0
// (statically linked, threads made by raw clone with their own TLS). The
// runtime makes its own raw system calls for everything below either way.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func check(err error) {
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

// Threads of the goroutines locked to one: distinct, and kept.
type lockedThreads struct {
	mu     sync.Mutex
	tids   map[int]bool
	n      int
	stayed bool
}

func (l *lockedThreads) record(tid int, stayed bool) {
	l.mu.Lock()
	l.tids[tid] = true
	l.n++
	l.stayed = l.stayed && stayed
	l.mu.Unlock()
}

var locked = lockedThreads{tids: map[int]bool{}, stayed: true}

func files(dir string) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	fail := func(e string) {
		mu.Lock()
		errs = append(errs, e)
		mu.Unlock()
	}
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			if g%4 == 0 {
				// a thread of its own for the whole job (exits with it)
				runtime.LockOSThread()
				tid := syscall.Gettid()
				defer func() { locked.record(tid, syscall.Gettid() == tid) }()
			}
			sub := filepath.Join(dir, fmt.Sprintf("g%02d", g))
			if err := os.Mkdir(sub, 0o755); err != nil {
				fail(err.Error())
				return
			}
			for i := 0; i < 20; i++ {
				data := bytes.Repeat([]byte{byte('a' + (g+i)%26)}, 512*(i+1))
				name := filepath.Join(sub, fmt.Sprintf("f%02d", i))
				if err := os.WriteFile(name, data, 0o644); err != nil {
					fail(err.Error())
					return
				}
				back, err := os.ReadFile(name)
				if err != nil || !bytes.Equal(back, data) {
					fail(fmt.Sprintf("%s read back wrong (%v)", name, err))
					return
				}
			}
		}(g)
	}
	// concurrent writers into one file, each at its own offsets
	f, err := os.Create(filepath.Join(dir, "shared.bin"))
	check(err)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			buf := bytes.Repeat([]byte{byte('A' + w)}, 4096)
			for k := 0; k < 8; k++ {
				if _, err := f.WriteAt(buf, int64((k*16+w)*4096)); err != nil {
					fail(err.Error())
				}
			}
		}(w)
	}
	wg.Wait()
	check(f.Close())
	sort.Strings(errs)
	for _, e := range errs {
		fmt.Println("error:", e)
	}
	entries, err := os.ReadDir(dir)
	check(err)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub, err := os.ReadDir(filepath.Join(dir, e.Name()))
		check(err)
		total := int64(0)
		for _, s := range sub {
			info, err := s.Info()
			check(err)
			total += info.Size()
		}
		fmt.Printf("%s: %d files, %d bytes\n", e.Name(), len(sub), total)
	}
	data, err := os.ReadFile(filepath.Join(dir, "shared.bin"))
	check(err)
	fmt.Printf("shared.bin: %d bytes, sha256 %x\n", len(data), sha256.Sum256(data))
	fmt.Printf("locked goroutines: %d on %d threads, stayed on them: %v\n", locked.n,
		len(locked.tids), locked.stayed)
}

func netio(dir string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				io.Copy(c, c)
			}(c)
		}
	}()
	log, err := os.Create(filepath.Join(dir, "net.log"))
	check(err)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var lines []string
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i%2 == 0 {
				runtime.LockOSThread()
			}
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				mu.Lock()
				lines = append(lines, "dial: "+err.Error())
				mu.Unlock()
				return
			}
			defer c.Close()
			r := bufio.NewReader(c)
			got := 0
			why := ""
			for k := 0; k < 50; k++ {
				msg := fmt.Sprintf("client %d message %d\n", i, k)
				if _, err := c.Write([]byte(msg)); err != nil {
					why = " (write: " + err.Error() + ")"
					break
				}
				back, err := r.ReadString('\n')
				if err != nil || back != msg {
					why = fmt.Sprintf(" (read %q: %v)", back, err)
					break
				}
				got++
			}
			mu.Lock()
			lines = append(lines, fmt.Sprintf("client %d: %d echoes%s", i, got, why))
			fmt.Fprintf(log, "client %d done\n", i)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	ln.Close()
	check(log.Close())
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
	data, err := os.ReadFile(filepath.Join(dir, "net.log"))
	check(err)
	fmt.Printf("net.log: %d lines\n", strings.Count(string(data), "\n"))
}

// Children started while other goroutines make calls of their own: the
// runtime's fork is a raw clone(CLONE_VFORK|CLONE_VM) on its own stack.
func execs(dir string) {
	name := filepath.Join(dir, "exec.txt")
	check(os.WriteFile(name, []byte("written before the children\n"), 0o644))
	var wg sync.WaitGroup
	out := make([]string, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i%2 == 0 {
				b, err := exec.Command("/bin/cat", name).Output()
				out[i] = fmt.Sprintf("cat %d: %q %v", i, b, err)
				return
			}
			f, err := os.Open(name)
			if err != nil {
				out[i] = err.Error()
				return
			}
			defer f.Close()
			self := os.Args[0]
			if i%4 == 1 {
				// /proc/self/exe: the program, not a launcher
				self, err = os.Executable()
				if err != nil {
					out[i] = err.Error()
					return
				}
			}
			cmd := exec.Command(self, "child", dir)
			cmd.ExtraFiles = []*os.File{f}
			b, err := cmd.Output()
			out[i] = fmt.Sprintf("self %d: %q %v", i, b, err)
		}(i)
	}
	wg.Wait()
	fmt.Println(strings.Join(out, "\n"))
}

func child(dir string) {
	f := os.NewFile(3, "inherited")
	b, err := io.ReadAll(f)
	check(err)
	_, err = os.Stat(filepath.Join(dir, "exec.txt"))
	fmt.Printf("child read %q, stat %v", b, err)
}

// The runtime's own signals: a stop-the-world preempts a loop without
// calls only by SIGURG; SIGUSR1 reaches os/signal; file I/O goes on.
func signals(dir string) {
	ch := make(chan os.Signal, 64)
	signal.Notify(ch, syscall.SIGUSR1)
	var stop int32
	spun := make(chan int)
	go func() {
		x := 0
		for atomic.LoadInt32(&stop) == 0 {
			x++
		}
		spun <- x
	}()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			name := filepath.Join(dir, fmt.Sprintf("sig%d", w))
			for i := 0; i < 50 && errs[w] == nil; i++ {
				data := bytes.Repeat([]byte{byte('a' + i%26)}, 1000+i)
				if errs[w] = os.WriteFile(name, data, 0o644); errs[w] == nil {
					back, err := os.ReadFile(name)
					if err == nil && !bytes.Equal(back, data) {
						err = fmt.Errorf("%s read back wrong", name)
					}
					errs[w] = err
				}
			}
		}(w)
	}
	for i := 0; i < 5; i++ {
		runtime.GC()
	}
	for i := 0; i < 20; i++ {
		check(syscall.Kill(os.Getpid(), syscall.SIGUSR1))
	}
	got := false
	select {
	case <-ch:
		got = true
	case <-time.After(60 * time.Second): // a bound, not a measure
	}
	wg.Wait()
	atomic.StoreInt32(&stop, 1)
	<-spun
	fmt.Println("garbage collections with a call-free loop running: 5")
	fmt.Println("SIGUSR1 received:", got)
	fmt.Println("file errors:", errs)
}

func main() {
	runtime.GOMAXPROCS(8)
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: goprog files|net|exec|signals DIR")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "files":
		files(os.Args[2])
	case "net":
		netio(os.Args[2])
	case "exec":
		execs(os.Args[2])
	case "child":
		child(os.Args[2])
	case "signals":
		signals(os.Args[2])
	default:
		os.Exit(2)
	}
}
