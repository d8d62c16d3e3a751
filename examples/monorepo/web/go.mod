module example.com/platform/web

go 1.22
