import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { envFileAdditions, readEnvFile } from '../../../src/config/env-file.js';

describe('.env files (npm start --dotenv .env)', () => {
  const text = ['# copied from .env.example', 'PORT=8080', 'ADMIN_TOKEN="s3cret token"', '', 'ACTION_TIMEOUT=10s # inline comment'].join('\n');

  it('reads KEY=value lines with Node’s parser (comments, quotes)', () => {
    expect(envFileAdditions({}, text).variables).to.deep.equal({ PORT: '8080', ADMIN_TOKEN: 's3cret token', ACTION_TIMEOUT: '10s' });
  });

  it('applies only what the environment does not set: the real environment wins', () => {
    const contents = envFileAdditions({ PORT: '3000', ACTION_TIMEOUT: '' }, text);
    expect(contents.applied).to.deep.equal(['ADMIN_TOKEN']);
  });

  it('answers null for a missing file, and the contents for a present one', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bridge-env-file-'));
    try {
      expect(readEnvFile({}, path.join(dir, '.env'))).to.equal(null);
      await writeFile(path.join(dir, '.env'), text);
      expect(readEnvFile({}, path.join(dir, '.env'))?.applied).to.have.members(['PORT', 'ADMIN_TOKEN', 'ACTION_TIMEOUT']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
