package ptxsim

import (
	"fmt"
	"strconv"
	"strings"
)

type token struct {
	s    string
	line int
}

// lex splits PTX text into identifiers (which keep their dots, so "ld.global.f32" and
// "%tid.x" are single tokens), numbers and one-character punctuation.
func lex(src string) ([]token, error) {
	var toks []token
	line := 1
	isWord := func(c byte) bool {
		return c == '_' || c == '.' || c == '%' || c == '$' ||
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("ptxsim: line %d: unterminated comment", line)
			}
			line += strings.Count(src[i:i+2+end], "\n")
			i += end + 4
		case isWord(c):
			j := i
			for j < len(src) && isWord(src[j]) {
				j++
			}
			toks = append(toks, token{src[i:j], line})
			i = j
		case strings.IndexByte("(),;:{}[]<>+-@!|", c) >= 0:
			toks = append(toks, token{string(c), line})
			i++
		default:
			return nil, fmt.Errorf("ptxsim: line %d: unexpected character %q", line, c)
		}
	}
	return toks, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].s
	}
	return ""
}

func (p *parser) line() int {
	if p.pos < len(p.toks) {
		return p.toks[p.pos].line
	}
	if len(p.toks) > 0 {
		return p.toks[len(p.toks)-1].line
	}
	return 0
}

func (p *parser) next() string {
	s := p.peek()
	p.pos++
	return s
}

func (p *parser) expect(s string) error {
	if got := p.next(); got != s {
		return fmt.Errorf("ptxsim: line %d: expected %q, found %q", p.line(), s, got)
	}
	return nil
}

func parseInt(s string) (int64, error) {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		u, err := strconv.ParseUint(s[2:], 16, 64)
		return int64(u), err
	}
	return strconv.ParseInt(s, 10, 64)
}

// rawEntry is a kernel as written: declarations plus unresolved statements.
type rawEntry struct {
	name    string
	params  []param
	regs    []regDecl
	shared  []sharedDecl
	stmts   []rawStmt
	labels  map[string]int // label -> index of the next statement
	startLn int
}

type param struct {
	name string
	t    ptype
}

type regDecl struct {
	prefix string
	t      ptype
	n      int
}

type sharedDecl struct {
	name    string
	align   int
	size    int
	dynamic bool
}

type rawOperand struct {
	kind    int // rawIdent, rawNum, rawMem, rawVec
	ident   string
	num     int64
	neg     bool // "!" before a predicate operand
	off     int64
	vec     []string
	altDest string // "d|p" form of shfl
}

const (
	rawIdent = iota
	rawNum
	rawMem
	rawVec
)

type rawStmt struct {
	guard    string
	guardNeg bool
	opcode   string
	ops      []rawOperand
	line     int
}

func parseModule(src string) ([]*rawEntry, []sharedDecl, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, nil, err
	}
	p := &parser{toks: toks}
	var entries []*rawEntry
	var externs []sharedDecl
	for p.pos < len(p.toks) {
		switch t := p.next(); t {
		case ".version", ".target", ".address_size":
			p.next()
			for p.peek() == "," { // .target sm_80, debug
				p.next()
				p.next()
			}
		case ".visible":
		case ".entry":
			e, err := p.parseEntry()
			if err != nil {
				return nil, nil, err
			}
			entries = append(entries, e)
		case ".extern":
			p.pos--
			d, err := p.parseShared()
			if err != nil {
				return nil, nil, err
			}
			if !d.dynamic {
				return nil, nil, fmt.Errorf("ptxsim: line %d: only .extern .shared is supported at module scope", p.line())
			}
			externs = append(externs, d)
		default:
			return nil, nil, fmt.Errorf("ptxsim: line %d: unsupported top-level token %q", p.line(), t)
		}
	}
	return entries, externs, nil
}

func (p *parser) parseEntry() (*rawEntry, error) {
	e := &rawEntry{name: p.next(), labels: map[string]int{}, startLn: p.line()}
	if err := p.expect("("); err != nil {
		return nil, err
	}
	for p.peek() != ")" {
		if err := p.expect(".param"); err != nil {
			return nil, err
		}
		t, err := parseType(p.next())
		if err != nil {
			return nil, fmt.Errorf("ptxsim: line %d: %v", p.line(), err)
		}
		e.params = append(e.params, param{name: p.next(), t: t})
		if p.peek() == "," {
			p.next()
		}
	}
	p.next()
	if err := p.expect("{"); err != nil {
		return nil, err
	}
	for {
		ln := p.line()
		t := p.peek()
		switch {
		case t == "":
			return nil, fmt.Errorf("ptxsim: kernel %s: missing closing brace", e.name)
		case t == "}":
			p.next()
			return e, nil
		case t == ".reg":
			p.next()
			ty, err := parseType(p.next())
			if err != nil {
				return nil, fmt.Errorf("ptxsim: line %d: %v", ln, err)
			}
			prefix := p.next()
			if err := p.expect("<"); err != nil {
				return nil, err
			}
			n, err := parseInt(p.next())
			if err != nil {
				return nil, fmt.Errorf("ptxsim: line %d: bad register count", ln)
			}
			if err := p.expect(">"); err != nil {
				return nil, err
			}
			e.regs = append(e.regs, regDecl{prefix, ty, int(n)})
			if err := p.expect(";"); err != nil {
				return nil, err
			}
		case t == ".shared" || t == ".extern":
			d, err := p.parseShared()
			if err != nil {
				return nil, err
			}
			e.shared = append(e.shared, d)
		case p.pos+1 < len(p.toks) && p.toks[p.pos+1].s == ":":
			e.labels[t] = len(e.stmts)
			p.pos += 2
		default:
			s, err := p.parseStmt()
			if err != nil {
				return nil, fmt.Errorf("ptxsim: kernel %s line %d: %v", e.name, ln, err)
			}
			e.stmts = append(e.stmts, s)
		}
	}
}

func (p *parser) parseStmt() (rawStmt, error) {
	s := rawStmt{line: p.line()}
	if p.peek() == "@" {
		p.next()
		if p.peek() == "!" {
			p.next()
			s.guardNeg = true
		}
		s.guard = p.next()
	}
	s.opcode = p.next()
	for p.peek() != ";" {
		if p.peek() == "" {
			return s, fmt.Errorf("missing ';'")
		}
		o, err := p.parseOperand()
		if err != nil {
			return s, err
		}
		s.ops = append(s.ops, o)
		if p.peek() == "," {
			p.next()
		}
	}
	p.next()
	return s, nil
}

func (p *parser) parseOperand() (rawOperand, error) {
	switch t := p.next(); t {
	case "{":
		o := rawOperand{kind: rawVec}
		for p.peek() != "}" {
			if p.peek() == "" {
				return o, fmt.Errorf("unterminated vector operand")
			}
			o.vec = append(o.vec, p.next())
			if p.peek() == "," {
				p.next()
			}
		}
		p.next()
		return o, nil
	case "[":
		o := rawOperand{kind: rawMem, ident: p.next()}
		if p.peek() == "+" {
			p.next()
			neg := false
			if p.peek() == "-" {
				p.next()
				neg = true
			}
			n, err := parseInt(p.next())
			if err != nil {
				return o, fmt.Errorf("bad address offset")
			}
			if neg {
				n = -n
			}
			o.off = n
		}
		return o, p.expect("]")
	case "-":
		n, err := parseInt(p.next())
		return rawOperand{kind: rawNum, num: -n}, err
	case "!":
		return rawOperand{kind: rawIdent, ident: p.next(), neg: true}, nil
	default:
		if t[0] >= '0' && t[0] <= '9' {
			if strings.HasPrefix(t, "0f") || strings.HasPrefix(t, "0F") {
				u, err := strconv.ParseUint(t[2:], 16, 32)
				return rawOperand{kind: rawNum, num: int64(u)}, err
			}
			if strings.HasPrefix(t, "0d") || strings.HasPrefix(t, "0D") {
				u, err := strconv.ParseUint(t[2:], 16, 64)
				return rawOperand{kind: rawNum, num: int64(u)}, err
			}
			n, err := parseInt(t)
			return rawOperand{kind: rawNum, num: n}, err
		}
		o := rawOperand{kind: rawIdent, ident: t}
		if p.peek() == "|" {
			p.next()
			o.altDest = p.next()
		}
		return o, nil
	}
}

func (p *parser) parseShared() (sharedDecl, error) {
	ln := p.line()
	d := sharedDecl{align: 1}
	if p.next() == ".extern" {
		d.dynamic = true
		if err := p.expect(".shared"); err != nil {
			return d, err
		}
	}
	if p.peek() == ".align" {
		p.next()
		a, err := parseInt(p.next())
		if err != nil {
			return d, fmt.Errorf("ptxsim: line %d: bad alignment", ln)
		}
		d.align = int(a)
	}
	elem := p.next()
	esz := map[string]int{".b8": 1, ".u8": 1, ".b32": 4, ".f32": 4, ".u32": 4, ".b64": 8}[elem]
	if esz == 0 {
		return d, fmt.Errorf("ptxsim: line %d: unsupported shared element type %q", ln, elem)
	}
	d.name = p.next()
	if err := p.expect("["); err != nil {
		return d, err
	}
	if !d.dynamic {
		n, err := parseInt(p.next())
		if err != nil {
			return d, fmt.Errorf("ptxsim: line %d: bad shared size", ln)
		}
		d.size = int(n) * esz
	}
	if err := p.expect("]"); err != nil {
		return d, err
	}
	if err := p.expect(";"); err != nil {
		return d, err
	}
	return d, nil
}
