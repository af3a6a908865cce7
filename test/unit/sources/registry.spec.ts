import { expect } from 'chai';
import { firstpromoter } from '../../../src/sources/firstpromoter/index.js';
import { urlVariable } from '../../../src/config/env-variable.js';
import { collectStrippedFields, DEFAULT_STRIPPED_FIELDS, isSourceName, labelEventType, sourceRegistry } from '../../../src/sources/registry.js';
import { defineSource } from '../../../src/sources/source.js';
import { rewardful } from '../../../src/sources/rewardful/index.js';

describe('sourceRegistry', () => {
  it('holds exactly the two providers, each under its own name', () => {
    expect(Object.keys(sourceRegistry)).to.deep.equal(['firstpromoter', 'rewardful']);
    expect(sourceRegistry.firstpromoter).to.equal(firstpromoter);
    expect(sourceRegistry.rewardful).to.equal(rewardful);
    for (const [name, source] of Object.entries(sourceRegistry)) expect(source.name).to.equal(name);
  });

  it('cannot be changed at run time', () => {
    expect(Object.isFrozen(sourceRegistry)).to.equal(true);
  });

  const names: [string, boolean][] = [
    ['firstpromoter', true],
    ['rewardful', true],
    ['partnerstack', false],
    ['FirstPromoter', false],
    ['', false],
    ['__proto__', false],
    ['constructor', false],
    ['toString', false],
    ['hasOwnProperty', false],
  ];
  for (const [name, expected] of names) {
    it(`isSourceName(${JSON.stringify(name)}) is ${expected}`, () => {
      expect(isSourceName(name)).to.equal(expected);
    });
  }
});

describe('source descriptors', () => {
  for (const source of Object.values(sourceRegistry)) {
    describe(source.name, () => {
      it('has a schema for every event type it declares', () => {
        expect(source.eventTypes.length).to.be.greaterThan(0);
        for (const type of source.eventTypes) expect(source.schemasFor(type), type).not.to.equal(null);
        expect(source.schemasFor('no_such_type')).to.equal(null);
      });

      it('declares its webhook secret as a secret variable', () => {
        expect(source.env[source.webhookSecret]?.isSecret).to.equal(true);
      });
    });
  }

  it('recognise their own example deliveries and not each other\'s', () => {
    const firstpromoterBody = { event: { id: 1, type: 'lead_signup' }, data: {} };
    const rewardfulBody = { event: { id: 'a', type: 'referral.created' }, object: {}, request: {} };
    expect(firstpromoter.recognize(firstpromoterBody)).to.equal(true);
    expect(rewardful.recognize(firstpromoterBody)).to.equal(false);
    expect(rewardful.recognize(rewardfulBody)).to.equal(true);
    expect(firstpromoter.recognize(rewardfulBody)).to.equal(false);
  });

  it('refuses a descriptor whose webhook secret is not one of its secret variables', () => {
    expect(() =>
      defineSource({ ...rewardful, name: 'broken', env: { BROKEN_URL: urlVariable('x', 'https://x/') }, webhookSecret: 'BROKEN_URL' }),
    ).to.throw(TypeError, 'source broken: webhookSecret BROKEN_URL must be one of its secret variables');
  });

  it('refuses a source named bridge: the namespace of the bridge\'s own events', () => {
    expect(() => defineSource({ ...rewardful, name: 'bridge' })).to.throw(TypeError, "source name bridge is taken: the bridge's own event types start with bridge.");
  });

  it('strip by default the union of every source\'s stripped fields, defined once', () => {
    expect(DEFAULT_STRIPPED_FIELDS).to.deep.equal(['auth_token', 'temp_password']);
    expect(collectStrippedFields(sourceRegistry)).to.deep.equal(DEFAULT_STRIPPED_FIELDS);
  });

  // Issue 10, point 3: metric labels stay bounded whatever types senders invent.
  const labels: Array<[string, string]> = [
    ['firstpromoter.lead_signup', 'firstpromoter.lead_signup'],
    ['firstpromoter.referral.created', 'firstpromoter.referral.created'],
    ['firstpromoter.test.referral.created', 'firstpromoter.test.referral.created'],
    ['rewardful.referral.converted', 'rewardful.referral.converted'],
    ['firstpromoter.something_new', 'unknown'],
    ['firstpromoter.test.something_new', 'unknown'],
    ['firstpromoter.test.lead_signup', 'unknown'],
    ['rewardful.lead_signup', 'unknown'],
    ['toy.thing_happened', 'unknown'],
    // The bridge's own events (events/internal-events.ts) count under their type; invented ones do not.
    ['bridge.action.failed', 'bridge.action.failed'],
    ['bridge.action.exploded', 'unknown'],
    ['constructor.lead_signup', 'unknown'],
    ['', 'unknown'],
  ];
  for (const [type, label] of labels) {
    it(`labels ${JSON.stringify(type)} as ${label} on bridge_events_total`, () => {
      expect(labelEventType(type)).to.equal(label);
    });
  }

  it('labels the types of the registry it is given: a toy source counts its own', () => {
    const toy = defineSource({ ...rewardful, name: 'toy', eventTypes: ['thing_happened'] });
    expect(labelEventType('toy.thing_happened', { toy })).to.equal('toy.thing_happened');
    expect(labelEventType('toy.other_thing', { toy })).to.equal('unknown');
  });
});
