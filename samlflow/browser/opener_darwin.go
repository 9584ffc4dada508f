package browser

func opener() string { return "/usr/bin/open" }
