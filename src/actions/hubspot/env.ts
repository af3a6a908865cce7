import { positiveIntegerVariable, secretVariable, urlVariable } from '../../config/env-variable.js';

/** What every HubSpot action (and `hubspot setup-properties`) reads from the environment. */
export const hubspotEnv = {
  HUBSPOT_ACCESS_TOKEN: secretVariable('HubSpot private-app access token; unset: HubSpot actions run as dry-run.'),
  HUBSPOT_BASE_URL: urlVariable('Base path of the HubSpot API (tests point it at a fake).', 'https://api.hubapi.com'),
  HUBSPOT_REQUESTS_PER_10_SECONDS: positiveIntegerVariable('HubSpot requests per 10 seconds, shared by all workers.', 90),
} as const;
