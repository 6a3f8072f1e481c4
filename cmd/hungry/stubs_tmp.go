package main

import "io"

func runSynth(args []string, stdout, stderr io.Writer) error { return usagef("synth: not built yet") }
