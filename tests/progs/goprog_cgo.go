// The cgo half of goprog (test_go.py builds goprog.go with it, and without
// it under CGO_ENABLED=0): importing "C" makes the binary dynamically
// linked, with threads made by pthread_create.
package main

/*
 */
import "C"
