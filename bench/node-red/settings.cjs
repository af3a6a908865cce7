// Node-RED settings for bench/peer.ts only: the runtime with its editor off, listening on loopback,
// logging warnings only (nothing per message), running flow.json from this folder.
// PORT and NODE_RED_USER_DIR are set by bench/peer.ts.
const path = require('node:path');

module.exports = {
  uiHost: '127.0.0.1',
  uiPort: Number(process.env.PORT),
  userDir: process.env.NODE_RED_USER_DIR,
  flowFile: path.join(__dirname, 'flow.json'),
  flowFilePretty: true,
  credentialSecret: false,
  // No editor and no admin API: only the flow's own http endpoints.
  httpAdminRoot: false,
  httpNodeRoot: '/',
  // The token check compares in constant time, as the bridge does.
  functionGlobalContext: { crypto: require('node:crypto') },
  logging: { console: { level: 'warn', metrics: false, audit: false } },
  diagnostics: { enabled: false, ui: false },
  telemetry: { enabled: false },
  runtimeState: { enabled: false, ui: false },
  externalModules: { autoInstall: false },
  editorTheme: { tours: false },
};
