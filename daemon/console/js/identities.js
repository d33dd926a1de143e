// The identities page (keys allowed the admin actions): users with their policies, a form
// that adds a user and shows its new secret once, a user's keys (listed, each removable),
// a form that attaches a named policy to an existing user, and the named policies with an editor
// that checks the JSON before the node validates and saves it.

import { el, toast, confirmAction } from './dom.js';
import * as api from './api.js';

export async function renderIdentities(main) {
  const usersBox = el('div', { id: 'users' });
  const policiesBox = el('div', { id: 'policies' });
  const policySelect = el('select', { id: 'user-policy' });
  const userName = el('input', { id: 'user-name', placeholder: 'user name', required: true });
  const secretBox = el('div', { class: 'share-panel', id: 'new-key', hidden: true });
  const userForm = el('form', { class: 'toolbar', id: 'add-user' }, userName, policySelect,
    el('button', { class: 'primary', type: 'submit', text: 'Add user' }));
  const keysBox = el('div', { class: 'share-panel', id: 'user-keys', hidden: true });
  const attachUser = el('select', { id: 'attach-user' });
  const attachPolicy = el('select', { id: 'attach-policy' });
  const attachForm = el('form', { class: 'toolbar', id: 'attach-form' }, attachUser, attachPolicy,
    el('button', { class: 'primary', type: 'submit', text: 'Attach policy' }));
  const policyName = el('input', { id: 'policy-name', placeholder: 'policy name', required: true });
  const policyDoc = el('textarea', { id: 'policy-document', rows: 8, cols: 80, spellcheck: 'false' });
  policyDoc.value = '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::bucket/*"]}\n  ]\n}';
  const policyError = el('p', { class: 'error', id: 'policy-error' });
  const policyForm = el('form', { id: 'put-policy' }, el('div', { class: 'toolbar' }, policyName,
    el('button', { class: 'primary', type: 'submit', text: 'Save policy' })), policyDoc, policyError);
  main.replaceChildren(el('h2', { text: 'Users' }), userForm, secretBox, usersBox,
    keysBox, attachForm,
    el('h2', { text: 'Policies' }), policyForm, policiesBox);

  function showSecret(key) {
    secretBox.replaceChildren(
      el('span', { text: `Access key ${key.accessKey}, secret (shown once):` }),
      el('input', { id: 'new-secret', readonly: true, value: key.secretKey }),
      el('span', { id: 'new-access', hidden: true, text: key.accessKey }));
    secretBox.hidden = false;
  }

  async function showKeys(name) {
    const { keys } = await api.userKeys(name);
    keysBox.replaceChildren(el('h3', { text: `Keys of ${name}` }),
      el('table', { id: 'key-table', 'data-user': name }, el('tbody', {}, ...keys.map((k) =>
        el('tr', { 'data-key': k.accessKey },
          el('td', { class: 'name', text: k.accessKey }),
          el('td', { text: k.expires ? `expires ${new Date(k.expires * 1000).toISOString()}` : '' }),
          el('td', { text: k.hasPolicy ? 'own policy' : '' }),
          el('td', { class: 'actions' }, el('button', {
            class: 'danger remove-key', type: 'button', text: 'Remove',
            onclick: async () => {
              try {
                if (!(await confirmAction(`Remove access key ${k.accessKey}?`, 'Remove'))) return;
                await api.removeKey(k.accessKey);
                toast(`Key ${k.accessKey} removed`);
                await showKeys(name);
              } catch (e) { toast(api.explain(e), true); }
            },
          })))))));
    keysBox.hidden = false;
  }

  async function fill() {
    try {
      const { users } = await api.users();
      const act = (cls, text, fn) => el('button', {
        class: cls, type: 'button', text,
        onclick: async () => {
          try { await fn(); } catch (e) { toast(api.explain(e), true); }
        },
      });
      usersBox.replaceChildren(el('table', { id: 'user-table' },
        el('thead', {}, el('tr', {}, el('th', { text: 'User' }), el('th', { text: 'State' }),
          el('th', { text: 'Policies' }), el('th'))),
        el('tbody', {}, ...users.map((u) => el('tr', { 'data-user': u.name },
          el('td', { class: 'name', text: u.name }),
          el('td', { class: 'user-state', text: u.enabled ? 'enabled' : 'disabled' }),
          el('td', { text: u.policies.join(', ') }),
          el('td', { class: 'actions' },
            act('toggle-user', u.enabled ? 'Disable' : 'Enable', async () => {
              await api.setUserEnabled(u.name, !u.enabled);
              await fill();
            }),
            act('add-key', 'New key', async () => {
              showSecret(await api.addKey(u.name));
            }),
            act('list-keys', 'Keys', () => showKeys(u.name)),
            act('danger remove-user', 'Remove', async () => {
              if (!(await confirmAction(`Remove user ${u.name} and its keys?`, 'Remove'))) return;
              await api.removeUser(u.name);
              toast(`User ${u.name} removed`);
              await fill();
            })))))));
      attachUser.replaceChildren(...users.map((u) => el('option', { value: u.name, text: u.name })));
    } catch (e) {
      usersBox.replaceChildren(el('p', { class: 'error', text: api.explain(e) }));
    }
    try {
      const { policies } = await api.policies();
      policySelect.replaceChildren(el('option', { value: '', text: '(no policy)' }),
        ...policies.map((p) => el('option', { value: p.name, text: p.name })));
      attachPolicy.replaceChildren(...policies.map((p) => el('option', { value: p.name, text: p.name })));
      policiesBox.replaceChildren(...policies.map((p) => el('details', { 'data-policy': p.name },
        el('summary', { text: `${p.name}${p.builtin ? ' (built-in)' : ''}` }),
        el('pre', { text: p.document }))));
    } catch (e) {
      policiesBox.replaceChildren(el('p', { class: 'error', text: api.explain(e) }));
    }
  }

  userForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const policy = policySelect.value;
      showSecret(await api.addUser(userName.value.trim(), policy ? [policy] : []));
      userName.value = '';
      await fill();
    } catch (e) {
      toast(api.explain(e), true);
    }
  });

  attachForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api.attachPolicy(attachUser.value, attachPolicy.value);
      toast(`Policy ${attachPolicy.value} attached to ${attachUser.value}`);
      await fill();
    } catch (e) {
      toast(api.explain(e), true);
    }
  });

  policyForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    policyError.textContent = '';
    try {
      JSON.parse(policyDoc.value);
    } catch (e) {
      policyError.textContent = `Not valid JSON: ${e.message}`;
      return;
    }
    try {
      await api.putPolicy(policyName.value.trim(), policyDoc.value);
      toast(`Policy ${policyName.value.trim()} saved`);
      await fill();
    } catch (e) {
      policyError.textContent = api.explain(e);
    }
  });

  await fill();
}
