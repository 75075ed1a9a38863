module github.com/cloudsigma/cepgo

go 1.26.0
