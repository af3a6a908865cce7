import { expect } from 'chai';
import { firstpromoter } from '../../../src/sources/firstpromoter/index.js';
import { isSourceName, sourceRegistry } from '../../../src/sources/registry.js';
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
