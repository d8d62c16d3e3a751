module example.com/platform/billing

go 1.22
