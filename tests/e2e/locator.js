// locator.js -- the part of playwright's Locator API the demo suites use
// (locator(selector, { hasText, has }), waitFor, click, fill, press,
// textContent, getAttribute, count, isHidden, evaluateAll, screenshot),
// for a puppeteer page: puppeteer's own locators filter and wait
// differently, and the suites should read the same in either browser.
// A locator is a chain of steps resolved in the page on every call, so it
// follows the DOM as the app re-renders, as playwright's does.

// Runs in the page: the elements `chain` matches under document, in
// document order. hasText is playwright's: a case-insensitive substring
// of the whitespace-collapsed text, or a regular expression.
function resolveChain(chain) {
  const norm = (s) => s.replace(/\s+/g, ' ').trim();
  const textOk = (el, t) => {
    if (!t) return true;
    const text = norm(el.textContent ?? '');
    return t.re !== undefined ? new RegExp(t.re, t.flags).test(text) : text.toLowerCase().includes(norm(t.s).toLowerCase());
  };
  const find = (steps, roots) => {
    let set = roots;
    for (const step of steps) {
      const next = new Set();
      for (const root of set) for (const el of root.querySelectorAll(step.sel)) next.add(el);
      set = [...next].filter((el) => textOk(el, step.text) && (!step.has || find(step.has, [el]).length > 0));
    }
    return set;
  };
  return find(chain, [document]);
}

// Runs in the page: whether el is visible as playwright means it (a
// non-empty box and not visibility: hidden).
function visible(el) {
  const box = el.getBoundingClientRect();
  return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== 'hidden';
}

// The in-page helpers above, as source a page function can define.
const HELPERS = `${resolveChain}\n${visible}\n`;
const inPage = (body) => new Function('chain', 'arg', `${HELPERS}${body}`);

const step = (sel, { hasText, has } = {}) => ({
  sel,
  text: hasText === undefined ? null
    : hasText instanceof RegExp ? { re: hasText.source, flags: hasText.flags } : { s: String(hasText) },
  has: has ? has.chain : null,
});

const STATES = {
  attached: 'return resolveChain(chain).length > 0;',
  detached: 'return resolveChain(chain).length === 0;',
  visible: 'const el = resolveChain(chain)[0]; return !!el && visible(el);',
  hidden: 'const el = resolveChain(chain)[0]; return !el || !visible(el);',
};

export class Locator {
  constructor(page, chain) {
    this.page = page;     // puppeteer's Page
    this.chain = chain;
  }

  static of(page, selector, options) { return new Locator(page, [step(selector, options)]); }

  locator(selector, options) { return new Locator(this.page, [...this.chain, step(selector, options)]); }

  #run(body, arg = null) {
    return this.page.evaluate(`(${inPage(body)})(${JSON.stringify(this.chain)}, ${JSON.stringify(arg)})`);
  }

  async waitFor({ state = 'visible', timeout = 30_000 } = {}) {
    const check = inPage(STATES[state]);
    try {
      await this.page.waitForFunction(`(${check})(${JSON.stringify(this.chain)}, null)`, { timeout, polling: 100 });
    } catch (err) {
      throw new Error(`waiting for ${this} to be ${state}: ${err.message}`);
    }
  }

  count() { return this.#run('return resolveChain(chain).length;'); }
  isHidden() { return this.#run(STATES.hidden); }
  textContent() { return this.#first('return el.textContent;'); }
  getAttribute(name) { return this.#first('return el.getAttribute(arg);', name); }
  inputValue() { return this.#first('return el.value;'); }

  // fn(elements) in the page; only its source crosses, as with evaluate.
  evaluateAll(fn) { return this.#run(`return (${fn})(resolveChain(chain));`); }

  // Waits for the element, then acts on the first match, as a user would.
  async click() {
    await this.waitFor();
    await this.#first('el.scrollIntoView({ block: "center" }); el.click();');
  }

  async fill(value) {
    await this.waitFor();
    await this.#first(`el.focus(); el.value = arg;
      el.dispatchEvent(new Event('input', { bubbles: true }));
      el.dispatchEvent(new Event('change', { bubbles: true }));`, value);
  }

  // key: 'Enter' or 'Control+Enter' (modifiers joined with +).
  async press(key) {
    await this.waitFor();
    await this.#first('el.focus();');
    const keys = key.split('+');
    const main = keys.pop();
    for (const k of keys) await this.page.keyboard.down(k);
    await this.page.keyboard.press(main);
    for (const k of keys.reverse()) await this.page.keyboard.up(k);
  }

  async screenshot(options) {
    await this.waitFor();
    const handle = await this.page.evaluateHandle(`(${inPage('return resolveChain(chain)[0];')})(${JSON.stringify(this.chain)}, null)`);
    try {
      return Buffer.from(await handle.asElement().screenshot(options));
    } finally {
      await handle.dispose();
    }
  }

  async #first(body, arg = null) {
    const out = await this.#run(`const el = resolveChain(chain)[0];
      if (!el) return { missing: true };
      return { value: (() => { ${body} })() };`, arg);
    if (out.missing) throw new Error(`no element matches ${this}`);
    return out.value ?? null;
  }

  toString() {
    return this.chain.map((s) => s.sel + (s.text ? `:has-text(${s.text.re ?? s.text.s})` : '') + (s.has ? ':has(...)' : '')).join(' >> ');
  }
}
