package netmon_test

const isWindows = false
