module github.com/sigma/vmw-ovflib

go 1.26.0
