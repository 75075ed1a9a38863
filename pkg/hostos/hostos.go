// Package hostos is the one place that knows which operating system
// cododemo runs on. Each job has one small interface here, implemented
// behind build tags (process groups and signals, terminal capabilities,
// private files), and every decision that differs between systems is a
// pure function taking the system's facts as input, so that the Windows
// decisions are tested on any machine. Nothing outside this package (and
// the probes of pkg/doctor) should ask runtime.GOOS.
package hostos

// GOOS is the system cododemo was built for, the goos argument of the
// pure decisions here.
const GOOS = goos
