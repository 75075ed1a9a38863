// Command hello is the workshop's first container (E6): it prints the line
// the 2014 workshop's hello.go printed and exits, so `docker run` shows a
// container that ran and stopped, and `docker ps -a` has something to list.
package main

import "fmt"

func main() {
	fmt.Println("hello World")
}
