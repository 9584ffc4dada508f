package samlidp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlidp"
	dsig "github.com/russellhaering/goxmldsig"
	"golang.org/x/crypto/bcrypt"

	"github.com/cvpn/cvpn/samlflow"
)

// Options configure Start. The zero value serves on a random loopback port
// for the AWS Client VPN service provider.
type Options struct {
	Addr       string // listen address; default "127.0.0.1:0"
	SPEntityID string // default samlflow.Audience
	ACSURL     string // default samlflow.ACSURL
	Logger     *slog.Logger
}

// User is an account on the test IdP.
type User struct {
	Name      string // login name typed in the form
	Password  string
	Email     string // becomes the NameID (the VPN username)
	FirstName string
	LastName  string
	Groups    []string // sent as memberOf
}

// IdP is a running test identity provider.
type IdP struct {
	// URL is the base URL, e.g. http://127.0.0.1:40123.
	URL string
	// MetadataXML is the IdP metadata (EntityDescriptor) to configure an SP.
	MetadataXML []byte
	// SSOURL is the SingleSignOnService location.
	SSOURL string

	Key  *rsa.PrivateKey
	Cert *x509.Certificate

	srv    *samlidp.Server
	store  *samlidp.MemoryStore
	http   *http.Server
	ln     net.Listener
	done   chan struct{}
	log    *slog.Logger
	spMeta *saml.EntityDescriptor

	mu       sync.Mutex
	answered time.Time // when the last signed response was sent
}

// Answered is when the IdP last sent a signed SAMLResponse to a browser
// (the page that posts it to the ACS URL); zero if never.
func (i *IdP) Answered() time.Time {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.answered
}

// answerWatch notes when a page carrying a SAMLResponse has been written.
type answerWatch struct {
	http.ResponseWriter
	seen bool
}

func (w *answerWatch) Write(b []byte) (int, error) {
	if !w.seen && strings.Contains(string(b), "SAMLResponse") {
		w.seen = true
	}
	return w.ResponseWriter.Write(b)
}

// Start creates a signing key and serves the IdP until Close or ctx ends.
func Start(ctx context.Context, opts Options) (*IdP, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.SPEntityID == "" {
		opts.SPEntityID = samlflow.Audience
	}
	if opts.ACSURL == "" {
		opts.ACSURL = samlflow.ACSURL
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "cvpn test IdP"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("test IdP: listen on %s: %w", opts.Addr, err)
	}
	base, _ := url.Parse("http://" + ln.Addr().String())
	store := &samlidp.MemoryStore{}
	spMeta := &saml.EntityDescriptor{
		EntityID: opts.SPEntityID,
		SPSSODescriptors: []saml.SPSSODescriptor{{
			SSODescriptor: saml.SSODescriptor{RoleDescriptor: saml.RoleDescriptor{
				ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
			}},
			AssertionConsumerServices: []saml.IndexedEndpoint{{
				Binding: saml.HTTPPostBinding, Location: opts.ACSURL, Index: 1,
			}},
		}},
	}
	if err := store.Put("/services/cvpn", samlidp.Service{Name: "cvpn", Metadata: *spMeta}); err != nil {
		ln.Close()
		return nil, err
	}
	ssoURL := base.String() + "/sso"
	srv, err := samlidp.New(samlidp.Options{
		URL:               *base,
		Key:               key,
		Certificate:       cert,
		Store:             store,
		Logger:            slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		LoginFormTemplate: loginForm(ssoURL),
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	srv.IDP.AssertionMaker = awsAssertionMaker{}
	md, err := xml.MarshalIndent(srv.IDP.Metadata(), "", "  ")
	if err != nil {
		ln.Close()
		return nil, err
	}
	i := &IdP{
		URL:         base.String(),
		MetadataXML: md,
		SSOURL:      ssoURL,
		Key:         key,
		Cert:        cert,
		srv:         srv,
		store:       store,
		ln:          ln,
		done:        make(chan struct{}),
		log:         log,
		spMeta:      spMeta,
	}
	i.http = &http.Server{ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			aw := &answerWatch{ResponseWriter: w}
			srv.ServeHTTP(aw, r)
			if aw.seen {
				i.mu.Lock()
				i.answered = time.Now()
				i.mu.Unlock()
			}
		})}
	go func() {
		defer close(i.done)
		if err := i.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("test IdP stopped", "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			i.Close()
		case <-i.done:
		}
	}()
	log.Info("test IdP listening", "url", i.URL)
	return i, nil
}

// Close stops the server and waits for it.
func (i *IdP) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := i.http.Shutdown(ctx)
	if err != nil {
		err = i.http.Close()
	}
	<-i.done
	return err
}

// AddUser adds or replaces an account.
func (i *IdP) AddUser(u User) error {
	if u.Name == "" || strings.ContainsAny(u.Name, "/") {
		return fmt.Errorf("test IdP: user name %q is empty or has a slash", u.Name)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(u.Password), bcrypt.MinCost)
	if err != nil {
		return err
	}
	return i.store.Put("/users/"+u.Name, samlidp.User{
		Name:           u.Name,
		HashedPassword: h,
		Email:          u.Email,
		GivenName:      u.FirstName,
		Surname:        u.LastName,
		Groups:         append([]string(nil), u.Groups...),
	})
}

// loginForm is the page a user (or the headless browser) fills in. It
// posts back to the SSO endpoint with the request, so the flow continues
// to the signed response (samlidp's /login only answers JSON).
func loginForm(ssoURL string) *template.Template {
	return template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cvpn test IdP: sign in</title></head>
<body>
<h1>Sign in</h1>
{{if .Toast}}<p id="error" role="alert">{{.Toast}}</p>{{end}}
<form id="login" method="post" action="` + template.HTMLEscapeString(ssoURL) + `">
<label for="user">User</label> <input id="user" type="text" name="user" autocomplete="username" autofocus>
<label for="password">Password</label> <input id="password" type="password" name="password" autocomplete="current-password">
<input type="hidden" name="SAMLRequest" value="{{.SAMLRequest}}">
<input type="hidden" name="RelayState" value="{{.RelayState}}">
<button id="signin" type="submit">Sign in</button>
</form>
</body></html>
`))
}

// awsAssertionMaker is crewjam's default assertion plus what AWS Client VPN
// expects: NameID in email format and FirstName, LastName, memberOf.
type awsAssertionMaker struct{}

func (awsAssertionMaker) MakeAssertion(req *saml.IdpAuthnRequest, s *saml.Session) error {
	if err := (saml.DefaultAssertionMaker{}).MakeAssertion(req, s); err != nil {
		return err
	}
	a := req.Assertion
	a.Subject.NameID.Format = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	attr := func(name string, vals ...string) saml.Attribute {
		at := saml.Attribute{Name: name, NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"}
		for _, v := range vals {
			at.Values = append(at.Values, saml.AttributeValue{Type: "xs:string", Value: v})
		}
		return at
	}
	st := &a.AttributeStatements[0]
	if s.UserGivenName != "" {
		st.Attributes = append(st.Attributes, attr("FirstName", s.UserGivenName))
	}
	if s.UserSurname != "" {
		st.Attributes = append(st.Attributes, attr("LastName", s.UserSurname))
	}
	if len(s.Groups) > 0 {
		st.Attributes = append(st.Attributes, attr("memberOf", s.Groups...))
	}
	return nil
}

// Forge lets tests change a response: Assertion runs on the assertion
// before it is signed; Response runs on the signed response element just
// before it is serialized (to tamper with signed content or wrap it).
type Forge struct {
	Assertion func(a *saml.Assertion)
	Response  func(resp *etree.Element)
	// AssertionElement, when set, runs on the assertion element before it
	// is signed (to put content crewjam's types cannot express under the
	// assertion signature).
	AssertionElement func(a *etree.Element)
	// AnyDestination makes the IdP answer requests addressed to another
	// IdP (to test responses signed with the wrong key).
	AnyDestination bool
	// Now is the IdP's clock for this response; zero = time.Now().
	Now time.Time
}

// Respond signs in user (by login name, no password) for the AuthnRequest
// carried in redirectURL (as made by an SP for the HTTP-Redirect binding)
// and returns the base64 SAMLResponse the browser would post.
func (i *IdP) Respond(redirectURL, user string, f Forge) (string, error) {
	var u samlidp.User
	if err := i.store.Get("/users/"+user, &u); err != nil {
		return "", fmt.Errorf("test IdP: no user %q", user)
	}
	hr, err := http.NewRequest(http.MethodGet, redirectURL, nil)
	if err != nil {
		return "", err
	}
	hr.RemoteAddr = "127.0.0.1:1"
	req, err := saml.NewIdpAuthnRequest(&i.srv.IDP, hr)
	if err != nil {
		return "", err
	}
	if !f.Now.IsZero() {
		req.Now = f.Now
	}
	if f.AnyDestination {
		req.RequestBuffer = regexp.MustCompile(` Destination="[^"]*"`).ReplaceAll(req.RequestBuffer, nil)
	}
	if err := req.Validate(); err != nil {
		return "", fmt.Errorf("test IdP: AuthnRequest rejected: %w", err)
	}
	sess := &saml.Session{
		ID: "forged", NameID: u.Email, CreateTime: req.Now, ExpireTime: req.Now.Add(time.Hour),
		Index: "1", UserName: u.Name, Groups: u.Groups, UserEmail: u.Email,
		UserGivenName: u.GivenName, UserSurname: u.Surname,
	}
	if err := (awsAssertionMaker{}).MakeAssertion(req, sess); err != nil {
		return "", err
	}
	if !f.Now.IsZero() {
		req.Assertion.IssueInstant = f.Now
	}
	if f.Assertion != nil {
		f.Assertion(req.Assertion)
	}
	if f.AssertionElement != nil {
		el := req.Assertion.Element()
		f.AssertionElement(el)
		sc := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{
			Certificate: [][]byte{i.Cert.Raw}, PrivateKey: i.Key,
		}))
		sc.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
		if err := sc.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
			return "", err
		}
		signed, err := sc.SignEnveloped(el)
		if err != nil {
			return "", err
		}
		req.AssertionEl = signed
	} else if err := req.MakeAssertionEl(); err != nil {
		return "", err
	}
	if err := req.MakeResponse(); err != nil {
		return "", err
	}
	el := req.ResponseEl
	if f.Response != nil {
		f.Response(el)
	}
	doc := etree.NewDocument()
	doc.SetRoot(el)
	b, err := doc.WriteToBytes()
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}
