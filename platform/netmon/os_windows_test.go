package netmon_test

const isWindows = true
