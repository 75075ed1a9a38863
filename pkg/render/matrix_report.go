package render

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
)

// WriteMatrixJSON writes the report as one JSON document.
func WriteMatrixJSON(w io.Writer, r *MatrixReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

type mxSuites struct {
	XMLName  xml.Name  `xml:"testsuites"`
	Name     string    `xml:"name,attr"`
	Tests    int       `xml:"tests,attr"`
	Failures int       `xml:"failures,attr"`
	Suites   []mxSuite `xml:"testsuite"`
}

type mxSuite struct {
	Name     string   `xml:"name,attr"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Cases    []mxCase `xml:"testcase"`
}

type mxCase struct {
	Name      string     `xml:"name,attr"`
	Classname string     `xml:"classname,attr"`
	Failure   *mxFailure `xml:"failure,omitempty"`
	SystemOut string     `xml:"system-out,omitempty"`
}

type mxFailure struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

// WriteMatrixJUnit writes the report as JUnit XML: one suite per
// combination, one test case per rendered file (a refused or failed
// combination is one case named "refused" or "render").
func WriteMatrixJUnit(w io.Writer, r *MatrixReport) error {
	doc := mxSuites{Name: "cododemo render --check --matrix", Tests: r.Cases, Failures: r.Failures}
	for _, res := range r.Results {
		s := mxSuite{Name: res.Name}
		class := "cododemo.render.matrix." + res.Name
		if len(res.Files) == 0 {
			c := mxCase{Name: "render", Classname: class}
			if res.Expected == "refused" {
				c.Name = "refused"
			}
			if res.OK {
				c.SystemOut = res.Error // the refusal's message, for the record
			} else {
				c.Failure = &mxFailure{Message: firstLineOf(res.Error), Body: res.Error}
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
		}
		for _, f := range res.Files {
			c := mxCase{Name: f.Path, Classname: class, SystemOut: fmt.Sprintf("%s, %d bytes, %s", f.Check, f.Bytes, res.Delivery)}
			if !f.OK {
				c.Failure = &mxFailure{Message: f.Error, Body: f.Error}
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
		}
		s.Tests = len(s.Cases)
		doc.Suites = append(doc.Suites, s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func firstLineOf(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
