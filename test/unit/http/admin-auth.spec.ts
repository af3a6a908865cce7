import { isSameSecret } from '../../../src/secret.js';
import { expect } from 'chai';
import {
  buildSessionCookie,
  findCrossSiteReason,
  identifyAdminRequest,
  pickRedirectAfterLogin,
  readCookie,
} from '../../../src/http/admin/admin-auth.js';
import { decideThrottle } from '../../../src/http/admin/admin-sessions.js';
import { escapeHtml, html } from '../../../src/http/admin/html.js';
import { Secret } from '../../../src/secret.js';

const TOKEN = new Secret('admin-unit-token-0f1e2d3c');
const session = 'q'.repeat(43);

describe('admin authentication (pure)', () => {
  it('compares secrets in full, whatever their lengths', () => {
    expect(isSameSecret('abc', 'abc')).to.equal(true);
    expect(isSameSecret('abc', 'abcd')).to.equal(false);
    expect(isSameSecret('', 'abc')).to.equal(false);
  });

  const cases: Array<[string, Record<string, string>, string]> = [
    ['no credentials', {}, 'none'],
    ['right bearer', { authorization: `Bearer ${TOKEN.reveal()}` }, 'bearer'],
    ['bearer scheme is case-insensitive', { authorization: `bearer ${TOKEN.reveal()}` }, 'bearer'],
    ['wrong bearer', { authorization: 'Bearer nope' }, 'invalid'],
    ['Basic is not accepted', { authorization: `Basic ${Buffer.from(`a:${TOKEN.reveal()}`).toString('base64')}` }, 'invalid'],
    ['wrong bearer beside a valid cookie', { authorization: 'Bearer nope', cookie: `bridge_admin=${session}` }, 'invalid'],
    // A cookie's session is looked up in Redis by the router (admin.spec.ts): here it is only read.
    ['a session cookie among others', { cookie: `theme=dark; bridge_admin=${session}; x=1` }, 'cookie'],
    ['empty cookie', { cookie: 'bridge_admin=' }, 'none'],
  ];
  for (const [name, headers, kind] of cases) {
    it(`identifies a request: ${name} → ${kind}`, () => {
      expect(identifyAdminRequest(headers, TOKEN).kind).to.equal(kind);
    });
  }

  it('reads one cookie from a Cookie header', () => {
    expect(readCookie('a=1; b=2', 'b')).to.equal('2');
    expect(readCookie('ab=1', 'a')).to.equal(undefined);
    expect(readCookie(undefined, 'a')).to.equal(undefined);
  });

  it('asks cookie POSTs for the page header, and for same-origin when the browser says', () => {
    expect(findCrossSiteReason({ 'x-bridge-admin': '1' })).to.equal(null);
    expect(findCrossSiteReason({ 'x-bridge-admin': '1', 'sec-fetch-site': 'same-origin' })).to.equal(null);
    expect(findCrossSiteReason({})).to.equal('the x-bridge-admin header is missing');
    expect(findCrossSiteReason({ 'x-bridge-admin': '1', 'sec-fetch-site': 'same-site' })).to.equal('Sec-Fetch-Site is same-site, not same-origin');
  });

  const redirects: Array<[unknown, string]> = [
    [undefined, '/admin'],
    ['/admin', '/admin'],
    ['/admin?event=firstpromoter-1#trace', '/admin?event=firstpromoter-1#trace'],
    ['/admin/', '/admin/'],
    ['/administrator', '/admin'],
    ['//evil.example', '/admin'],
    ['https://evil.example/admin', '/admin'],
    ['/admin/\\evil.example', '/admin'],
    ['/admin\r\nSet-Cookie: x=1', '/admin'],
  ];
  for (const [next, expected] of redirects) {
    it(`goes to ${expected} after login when asked for ${JSON.stringify(next)}`, () => {
      expect(pickRedirectAfterLogin(next)).to.equal(expected);
    });
  }

  it('reads the session id from the cookie, for the router to look up', () => {
    expect(identifyAdminRequest({ cookie: `bridge_admin=${session}` }, TOKEN)).to.deep.equal({ kind: 'cookie', sessionId: session });
  });

  it('builds a cookie of the session id, scoped to /admin, HttpOnly, SameSite=Strict; Secure when asked', () => {
    expect(buildSessionCookie(session, false)).to.equal(`bridge_admin=${session}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=43200`);
    expect(buildSessionCookie(session, true, 60)).to.equal(`bridge_admin=${session}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=60; Secure`);
  });

  const throttleCases: Array<[number, number, ReturnType<typeof decideThrottle>]> = [
    [0, -2, { isAllowed: true }],
    [9, 60_000, { isAllowed: true }],
    [10, 60_000, { isAllowed: false, retryAfterSeconds: 60 }],
    [25, 1_500, { isAllowed: false, retryAfterSeconds: 2 }],
    [10, 1, { isAllowed: false, retryAfterSeconds: 1 }],
    // The window has ended (Redis PTTL -2: the key is gone): counting starts again.
    [10, -2, { isAllowed: true }],
  ];
  for (const [failures, windowLeftMs, expected] of throttleCases) {
    it(`throttle: ${failures} failures with ${windowLeftMs} ms of the window left → ${JSON.stringify(expected)}`, () => {
      expect(decideThrottle(failures, windowLeftMs)).to.deep.equal(expected);
    });
  }
});

describe('html escaping', () => {
  it('escapes the five HTML-significant characters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).to.equal('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('escapes interpolated values, keeps nested html, joins lists, drops null and false', () => {
    const name = '<script>alert(1)</script>';
    const out = html`<ul>${[name, html`<li>${name}</li>`]}${null}${false}${0}</ul>`.value;
    expect(out).to.equal('<ul>&lt;script&gt;alert(1)&lt;/script&gt;<li>&lt;script&gt;alert(1)&lt;/script&gt;</li>0</ul>');
  });
});
