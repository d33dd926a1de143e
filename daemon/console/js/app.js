// The console's entry: sign-in, the header, and routing by the URL's hash
// (#/buckets, #/b/<bucket>/<prefix>, #/policy/<bucket>, #/lifecycle/<bucket>, #/identities,
// #/cluster).

import { el } from './dom.js';
import * as api from './api.js';
import { renderBuckets, renderBrowser } from './browser.js';
import { renderCluster } from './cluster.js';
import { renderIdentities } from './identities.js';
import { renderPolicy } from './policy.js';
import { renderLifecycle } from './lifecycle.js';

const main = document.getElementById('main');
let generation = 0;

function showHeader(signedIn) {
  document.getElementById('top').hidden = !signedIn;
  document.getElementById('who').textContent = signedIn ? api.current().accessKey : '';
}

function renderLogin(message = '') {
  showHeader(false);
  const access = el('input', { id: 'access-key', autocomplete: 'username', required: true });
  const secret = el('input', { id: 'secret-key', type: 'password', autocomplete: 'current-password', required: true });
  const error = el('p', { id: 'login-error', class: 'error', text: message });
  const form = el('form', { class: 'login', id: 'login' },
    el('h2', { text: 'Sign in to Tessera' }),
    el('label', { for: 'access-key', text: 'Access key' }), access,
    el('label', { for: 'secret-key', text: 'Secret key' }), secret,
    el('button', { class: 'primary', type: 'submit', id: 'sign-in', text: 'Sign in' }),
    error);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      await api.login(access.value.trim(), secret.value);
      secret.value = '';
      if (!location.hash || location.hash === '#/') location.hash = '#/buckets';
      else route();
    } catch (e) {
      error.textContent = api.explain(e);
    }
  });
  main.replaceChildren(form);
  access.focus();
}

async function route() {
  const mine = ++generation;
  delete main.dataset.renderMs;
  main.ondragover = null;
  main.ondragleave = null;
  main.ondrop = null;
  if (!api.current()) {
    renderLogin();
    return;
  }
  showHeader(true);
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  for (const a of document.querySelectorAll('header nav a')) a.classList.remove('active');
  try {
    if (parts[0] === 'b' && parts[1]) {
      document.getElementById('nav-buckets').classList.add('active');
      await renderBrowser(main, decodeURIComponent(parts[1]), decodeURIComponent(parts[2] || ''));
    } else if (parts[0] === 'policy' && parts[1]) {
      document.getElementById('nav-buckets').classList.add('active');
      await renderPolicy(main, decodeURIComponent(parts[1]));
    } else if (parts[0] === 'lifecycle' && parts[1]) {
      document.getElementById('nav-buckets').classList.add('active');
      await renderLifecycle(main, decodeURIComponent(parts[1]));
    } else if (parts[0] === 'identities') {
      document.getElementById('nav-identities').classList.add('active');
      await renderIdentities(main);
    } else if (parts[0] === 'cluster') {
      document.getElementById('nav-cluster').classList.add('active');
      await renderCluster(main, () => mine === generation);
    } else {
      document.getElementById('nav-buckets').classList.add('active');
      await renderBuckets(main);
    }
  } catch (e) {
    main.replaceChildren(el('p', { class: 'error', text: api.explain(e) }));
  }
}

document.getElementById('logout').addEventListener('click', async () => {
  try {
    await api.logout();
  } catch (_) { /* the session is gone either way */ }
  generation++;
  renderLogin('Signed out.');
});

window.addEventListener('hashchange', route);
window.addEventListener('tessera-signed-out', () => {
  generation++;
  renderLogin('Your session ended: sign in again.');
});

(async () => {
  try {
    await api.resume();
  } catch (_) { /* not signed in */ }
  route();
})();
