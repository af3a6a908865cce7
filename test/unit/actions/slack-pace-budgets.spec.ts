import { expect } from 'chai';
import { SLACK_ARRIVAL_ALLOWANCE_MS, slackChannelIntervalMs, slackWorkspaceBudget } from '../../../src/actions/slack/pace-budgets.js';
import { mostInAnyWindow } from '../../support/rolling-window.js';

/** A deterministic stand-in for Math.random, so a failure can be replayed. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('Slack pace budgets', () => {
  it('spreads a channel\'s N posts over a second plus the arrival allowance', () => {
    expect(slackChannelIntervalMs(1)).to.equal(1000 + SLACK_ARRIVAL_ALLOWANCE_MS);
    expect(slackChannelIntervalMs(25)).to.be.closeTo(42, 1e-9);
  });

  it('posts that reach Slack up to the allowance late never make N + 1 in a rolling second; spaced by exactly 1/N s they do', () => {
    const random = seededRandom(7);
    const perSecond = 25;
    const arrivalsSpacedBy = (intervalMs: number) => Array.from({ length: 2000 }, (_, index) => index * intervalMs + random() * SLACK_ARRIVAL_ALLOWANCE_MS);
    expect(mostInAnyWindow(arrivalsSpacedBy(slackChannelIntervalMs(perSecond)), 1000)).to.equal(perSecond);
    expect(mostInAnyWindow(arrivalsSpacedBy(1000 / perSecond), 1000)).to.be.greaterThan(perSecond);
  });

  it('lets the workspace budget run ahead by a channel\'s longest wait (5 intervals), with the interval stretched to keep N a minute', () => {
    const budget = slackWorkspaceBudget(120, 1050);
    expect(budget.toleranceMs).to.equal(5 * 1050);
    expect(budget.intervalMs).to.be.closeTo((60_000 + 5250 + SLACK_ARRIVAL_ALLOWANCE_MS) / 120, 1e-9);
  });

  it('a burst then steady posting at the budget: no rolling minute holds more than N', () => {
    for (const perMinute of [1, 2, 7, 120, 600, 30_000]) {
      const { intervalMs, toleranceMs } = slackWorkspaceBudget(perMinute, slackChannelIntervalMs(1));
      // GCRA's earliest departures from a quiet start: post k leaves at max(0, k × interval − tolerance).
      const departures = Array.from({ length: perMinute * 4 }, (_, index) => Math.max(0, index * intervalMs - toleranceMs));
      // At most N, and the busiest minute uses (nearly) all of it.
      expect(mostInAnyWindow(departures, 60_000), `${perMinute} a minute`).to.be.within(Math.floor(0.999 * perMinute), perMinute);
      // Arrivals up to the allowance late keep to it too.
      const random = seededRandom(perMinute);
      const arrivals = departures.map((departure) => departure + random() * SLACK_ARRIVAL_ALLOWANCE_MS);
      expect(mostInAnyWindow(arrivals, 60_000), `${perMinute} a minute, arrivals`).to.be.at.most(perMinute);
    }
  });
});
