package sp

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"

	"github.com/cvpn/cvpn/samlflow"
)

const (
	dsigNS       = "http://www.w3.org/2000/09/xmldsig#"
	emailFormat  = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	maxNameLen   = 255
	maxGroups    = 200
	clockSkew    = 3 * time.Minute
	defaultTTL   = 10 * time.Minute
	defaultLimit = 10000
)

// Config configures New. Only IdPMetadata is required.
type Config struct {
	// IdPMetadata is the IdP's SAML metadata XML (an EntityDescriptor, or an
	// EntitiesDescriptor holding one IdP), as downloaded from the IdP.
	IdPMetadata []byte
	// EntityID is our issuer and the audience: default samlflow.Audience.
	EntityID string
	// ACSURL is where the IdP posts the response: default samlflow.ACSURL.
	ACSURL string
	// StateTTL is how long a Begin state stays usable: default 10 minutes.
	StateTTL time.Duration
	// MaxPending bounds pending states and the replay cache: default 10000.
	MaxPending int
	// Now is the clock: default time.Now.
	Now func() time.Time
	// Logger: default discard. SAML responses are never logged.
	Logger *slog.Logger
}

// Identity is what a validated assertion says about the user.
type Identity struct {
	User        string   // NameID (email format), the VPN username
	Groups      []string // memberOf values, case preserved
	FirstName   string
	LastName    string
	AssertionID string
	Issuer      string
}

// SP is a service provider. It is safe for concurrent use.
type SP struct {
	sp       saml.ServiceProvider
	entityID string
	acs      string
	ttl      time.Duration
	limit    int
	now      func() time.Time
	log      *slog.Logger

	mu      sync.Mutex
	pending map[string]pendingState // state id -> request
	seen    map[string]time.Time    // assertion ID -> forget after
}

type pendingState struct {
	requestID string
	expires   time.Time
}

// New parses the IdP metadata and returns a service provider.
func New(cfg Config) (*SP, error) {
	md, err := parseMetadata(cfg.IdPMetadata)
	if err != nil {
		return nil, err
	}
	s := &SP{
		entityID: cfg.EntityID,
		acs:      cfg.ACSURL,
		ttl:      cfg.StateTTL,
		limit:    cfg.MaxPending,
		now:      cfg.Now,
		log:      cfg.Logger,
		pending:  map[string]pendingState{},
		seen:     map[string]time.Time{},
	}
	if s.entityID == "" {
		s.entityID = samlflow.Audience
	}
	if s.acs == "" {
		s.acs = samlflow.ACSURL
	}
	if s.ttl <= 0 {
		s.ttl = defaultTTL
	}
	if s.limit <= 0 {
		s.limit = defaultLimit
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	acs, err := url.Parse(s.acs)
	if err != nil {
		return nil, fmt.Errorf("saml sp: ACSURL %q: %w", s.acs, err)
	}
	s.sp = saml.ServiceProvider{
		EntityID:          s.entityID,
		AcsURL:            *acs,
		IDPMetadata:       md,
		AuthnNameIDFormat: saml.EmailAddressNameIDFormat,
	}
	if s.sp.GetSSOBindingLocation(saml.HTTPRedirectBinding) == "" {
		return nil, fmt.Errorf("saml sp: IdP metadata (entity %q) has no SingleSignOnService with the HTTP-Redirect binding", md.EntityID)
	}
	if !hasSigningKey(md) {
		return nil, fmt.Errorf("saml sp: IdP metadata (entity %q) has no signing certificate (KeyDescriptor/X509Certificate)", md.EntityID)
	}
	return s, nil
}

// IdPEntityID is the IdP's entity ID from its metadata.
func (s *SP) IdPEntityID() string { return s.sp.IDPMetadata.EntityID }

func parseMetadata(b []byte) (*saml.EntityDescriptor, error) {
	if len(b) == 0 {
		return nil, errors.New("saml sp: IdPMetadata is empty")
	}
	var md saml.EntityDescriptor
	errDesc := xml.Unmarshal(b, &md)
	if errDesc == nil && len(md.IDPSSODescriptors) > 0 {
		return &md, nil
	}
	var set saml.EntitiesDescriptor
	if err := xml.Unmarshal(b, &set); err == nil {
		for i := range set.EntityDescriptors {
			if len(set.EntityDescriptors[i].IDPSSODescriptors) > 0 {
				return &set.EntityDescriptors[i], nil
			}
		}
	}
	if errDesc != nil {
		return nil, fmt.Errorf("saml sp: IdPMetadata is not SAML metadata: %w", errDesc)
	}
	return nil, errors.New("saml sp: IdPMetadata has no IDPSSODescriptor")
}

func hasSigningKey(md *saml.EntityDescriptor) bool {
	for _, d := range md.IDPSSODescriptors {
		for _, k := range d.KeyDescriptors {
			if (k.Use == "" || k.Use == "signing") && len(k.KeyInfo.X509Data.X509Certificates) > 0 {
				return true
			}
		}
	}
	return false
}

// Begin starts a sign-in: it makes an unsigned AuthnRequest for the
// HTTP-Redirect binding, remembers its ID under a fresh state id, and
// returns the state id and the IdP URL to send the user to.
func (s *SP) Begin() (stateID, redirectURL string, err error) {
	req, err := s.sp.MakeAuthenticationRequest(s.sp.GetSSOBindingLocation(saml.HTTPRedirectBinding),
		saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		return "", "", fmt.Errorf("saml sp: make AuthnRequest: %w", err)
	}
	u, err := req.Redirect("", &s.sp)
	if err != nil {
		return "", "", fmt.Errorf("saml sp: encode AuthnRequest: %w", err)
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	stateID = hex.EncodeToString(b[:])
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) >= s.limit {
		s.pruneLocked(now)
		if len(s.pending) >= s.limit {
			return "", "", fmt.Errorf("saml sp: too many pending sign-ins (%d)", len(s.pending))
		}
	}
	s.pending[stateID] = pendingState{requestID: req.ID, expires: now.Add(s.ttl)}
	s.log.Info("saml sign-in started", "state", stateID, "request", req.ID)
	return stateID, u.String(), nil
}

func (s *SP) pruneLocked(now time.Time) {
	for k, v := range s.pending {
		if now.After(v.expires) {
			delete(s.pending, k)
		}
	}
	for k, v := range s.seen {
		if now.After(v) {
			delete(s.seen, k)
		}
	}
}

// Error is a rejected SAML response. Error() is a message for the server's
// log and the connection log; it never contains the response itself.
type Error struct {
	StateID string
	Reason  string
}

func (e *Error) Error() string {
	return "SAML response rejected (state " + e.StateID + "): " + e.Reason
}

// Complete validates samlResponse (the base64 SAMLResponse field) for the
// state created by Begin. The state is consumed whatever the outcome: a
// failed sign-in starts again with Begin.
func (s *SP) Complete(stateID, samlResponse string) (id Identity, err error) {
	fail := func(format string, a ...any) (Identity, error) {
		return Identity{}, &Error{StateID: stateID, Reason: fmt.Sprintf(format, a...)}
	}
	defer func() {
		if r := recover(); r != nil {
			// GO-2026-6909: malformed documents can panic the parser.
			id, err = fail("malformed SAML response (the parser failed on it)")
			s.log.Warn("saml parser panic recovered", "state", stateID)
		}
		if err != nil {
			s.log.Warn("saml sign-in failed", "state", stateID, "err", err)
		}
	}()
	now := s.now()
	s.mu.Lock()
	st, ok := s.pending[stateID]
	delete(s.pending, stateID)
	s.mu.Unlock()
	if !ok {
		return fail("unknown state id (already used, or never issued by this server)")
	}
	if now.After(st.expires) {
		return fail("the sign-in took longer than %s; start again", s.ttl)
	}
	raw, err := samlflow.DecodeResponse(samlResponse)
	if err != nil {
		return fail("%v", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return fail("not well-formed XML: %v", err)
	}
	assertionEl, err := s.structure(doc)
	if err != nil {
		return fail("%v", err)
	}
	acs := s.sp.AcsURL
	if acs.Path == "" {
		acs.Path = "/" // the browser posts to "/"; crewjam also accepts AcsURL itself
	}
	a, err := s.sp.ParseXMLResponse(raw, []string{st.requestID}, acs)
	if err != nil {
		var ire *saml.InvalidResponseError
		if errors.As(err, &ire) && ire.PrivateErr != nil {
			err = ire.PrivateErr
		}
		return fail("%v", err)
	}
	id, err = s.identity(assertionEl, a, now)
	if err != nil {
		return fail("%v", err)
	}
	// Replay cache: an assertion is single-use.
	forget := now.Add(clockSkew)
	if a.Conditions != nil && a.Conditions.NotOnOrAfter.After(now) {
		forget = a.Conditions.NotOnOrAfter.Add(clockSkew)
	}
	s.mu.Lock()
	_, replay := s.seen[id.AssertionID]
	if !replay {
		if len(s.seen) >= s.limit {
			s.pruneLocked(now)
		}
		s.seen[id.AssertionID] = forget
	}
	s.mu.Unlock()
	if replay {
		return fail("assertion %s was already used (replay)", id.AssertionID)
	}
	s.log.Info("saml sign-in succeeded", "state", stateID, "user", id.User, "groups", len(id.Groups))
	return id, nil
}

// structure checks the document shape before any signature processing and
// returns the single assertion element.
func (s *SP) structure(doc *etree.Document) (*etree.Element, error) {
	root := doc.Root()
	if root == nil || root.Tag != "Response" || root.NamespaceURI() != samlflow.ProtocolNS {
		return nil, errors.New("the document element is not samlp:Response")
	}
	if err := s.checkIssuer(root, "Response"); err != nil {
		return nil, err
	}
	var assertions []*etree.Element
	var misplaced error // reported after the assertion count, which is clearer
	ids := map[string]bool{}
	var walk func(e *etree.Element, depth int) error
	walk = func(e *etree.Element, depth int) error {
		if depth > 64 {
			return errors.New("XML nesting too deep")
		}
		if a := e.SelectAttr("ID"); a != nil {
			if ids[a.Value] {
				return fmt.Errorf("ID %q appears on more than one element (signature wrapping)", a.Value)
			}
			ids[a.Value] = true
		}
		switch e.Tag {
		case "Assertion":
			assertions = append(assertions, e)
		case "EncryptedAssertion":
			return errors.New("encrypted assertions are not supported: configure the IdP to sign, not encrypt")
		case "Signature":
			if p := e.Parent(); misplaced == nil && p != root && (p == nil || p.Tag != "Assertion" || p.Parent() != root) {
				misplaced = fmt.Errorf("a Signature element inside <%s> is not allowed (only on the Response or the Assertion)", p.FullTag())
			}
		}
		for _, c := range e.ChildElements() {
			if err := walk(c, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root, 0); err != nil {
		return nil, err
	}
	if len(assertions) != 1 {
		return nil, fmt.Errorf("the response must hold exactly one Assertion, found %d", len(assertions))
	}
	if misplaced != nil {
		return nil, misplaced
	}
	a := assertions[0]
	if a.Parent() != root || a.NamespaceURI() != samlflow.AssertionNS {
		return nil, fmt.Errorf("the Assertion must be a saml:Assertion directly under the Response, found <%s> under <%s>", a.FullTag(), a.Parent().FullTag())
	}
	if err := s.checkIssuer(a, "Assertion"); err != nil {
		return nil, err
	}
	return a, nil
}

// checkIssuer requires exactly one saml:Issuer child naming the IdP.
func (s *SP) checkIssuer(e *etree.Element, what string) error {
	var found []*etree.Element
	for _, c := range e.ChildElements() {
		if c.Tag == "Issuer" {
			found = append(found, c)
		}
	}
	if len(found) == 0 {
		return fmt.Errorf("the %s has no Issuer", what)
	}
	if len(found) > 1 || found[0].NamespaceURI() != samlflow.AssertionNS {
		return fmt.Errorf("the %s must have exactly one saml:Issuer", what)
	}
	if got := strings.TrimSpace(found[0].Text()); got != s.sp.IDPMetadata.EntityID {
		return fmt.Errorf("the %s Issuer %q is not the IdP %q", what, got, s.sp.IDPMetadata.EntityID)
	}
	return nil
}

// identity reads the user from the assertion element with strict namespace
// checks, cross-checks it with what crewjam validated, and applies the
// time window and audience checks with our clock.
func (s *SP) identity(el *etree.Element, a *saml.Assertion, now time.Time) (Identity, error) {
	var id Identity
	subject := strictChildren(el, "Subject")
	if len(subject) != 1 {
		return id, errors.New("the assertion must have exactly one saml:Subject")
	}
	var nameIDs []*etree.Element
	for _, c := range subject[0].ChildElements() {
		if c.Tag == "NameID" || c.Tag == "EncryptedID" || c.Tag == "BaseID" {
			nameIDs = append(nameIDs, c)
		}
	}
	if len(nameIDs) != 1 || nameIDs[0].Tag != "NameID" || nameIDs[0].NamespaceURI() != samlflow.AssertionNS {
		return id, errors.New("the assertion Subject must have exactly one saml:NameID in the SAML assertion namespace")
	}
	id.User = strings.TrimSpace(nameIDs[0].Text())
	if a.Subject == nil || a.Subject.NameID == nil || strings.TrimSpace(a.Subject.NameID.Value) != id.User {
		return id, errors.New("the NameID read by the SAML library differs from the signed saml:NameID (spoofing attempt)")
	}
	if id.User == "" {
		return id, errors.New("the NameID is empty")
	}
	if len(id.User) > maxNameLen {
		return id, fmt.Errorf("the NameID is %d characters long, the limit is %d", len(id.User), maxNameLen)
	}
	if f := nameIDs[0].SelectAttrValue("Format", ""); f != "" && f != emailFormat {
		s.log.Warn("saml NameID is not in email format", "format", f)
	}
	// Time window and audience with our clock (crewjam checked with its own).
	c := a.Conditions
	if c == nil {
		return id, errors.New("the assertion has no Conditions (time window and audience are required)")
	}
	if !c.NotBefore.IsZero() && now.Add(clockSkew).Before(c.NotBefore) {
		return id, fmt.Errorf("the assertion is not valid before %s", c.NotBefore.UTC().Format(time.RFC3339))
	}
	if c.NotOnOrAfter.IsZero() || !now.Add(-clockSkew).Before(c.NotOnOrAfter) {
		return id, fmt.Errorf("the assertion expired at %s", c.NotOnOrAfter.UTC().Format(time.RFC3339))
	}
	audOK := false
	for _, r := range c.AudienceRestrictions {
		if r.Audience.Value == s.entityID {
			audOK = true
		}
	}
	if !audOK {
		return id, fmt.Errorf("the assertion audience is not %q", s.entityID)
	}
	id.AssertionID = el.SelectAttrValue("ID", "")
	if id.AssertionID == "" || id.AssertionID != a.ID {
		return id, errors.New("the assertion has no ID")
	}
	id.Issuer = a.Issuer.Value
	// Attributes, strictly namespaced.
	for _, st := range strictChildren(el, "AttributeStatement") {
		for _, at := range strictChildren(st, "Attribute") {
			name := at.SelectAttrValue("Name", "")
			var vals []string
			for _, v := range strictChildren(at, "AttributeValue") {
				vals = append(vals, strings.TrimSpace(v.Text()))
			}
			switch name {
			case "memberOf":
				id.Groups = append(id.Groups, vals...)
			case "FirstName":
				if len(vals) > 0 {
					id.FirstName = vals[0]
				}
			case "LastName":
				if len(vals) > 0 {
					id.LastName = vals[0]
				}
			}
		}
	}
	if len(id.Groups) > maxGroups {
		return id, fmt.Errorf("the user has %d groups, the limit is %d", len(id.Groups), maxGroups)
	}
	for _, g := range id.Groups {
		if len(g) > maxNameLen {
			return id, fmt.Errorf("a memberOf group is %d characters long, the limit is %d", len(g), maxNameLen)
		}
	}
	return id, nil
}

// strictChildren returns e's child elements named {AssertionNS}local.
func strictChildren(e *etree.Element, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range e.ChildElements() {
		if c.Tag == local && c.NamespaceURI() == samlflow.AssertionNS {
			out = append(out, c)
		}
	}
	return out
}
