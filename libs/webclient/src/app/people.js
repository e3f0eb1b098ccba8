// Who is in the room, for the host page: everyone with their role, the viewers who raised
// their hand to present (approve or deny), and the host's controls on each person (mute,
// demote a co-host, remove). Every change comes from the SDK's events.

import { $ } from './session.js';

export class PeoplePanel {
  constructor(webinar, root, { say = () => {} } = {}) {
    this.webinar = webinar;
    this.say = say;
    this._fail = (message) => say(message, 'error');
    this.requests = new Map(); // peer id -> name, in the order they asked
    root.innerHTML = `
      <section class="requests" aria-labelledby="requests-heading" hidden>
        <h3 id="requests-heading">Raised hands</h3>
        <ul class="people request-list" aria-live="polite"></ul>
      </section>
      <h3>In the room</h3>
      <ul class="people person-list" aria-live="polite"></ul>`;
    this.requestSection = $('.requests', root);
    this.requestList = $('.request-list', root);
    this.list = $('.person-list', root);
    webinar.addEventListener('peers', () => this.render());
    webinar.addEventListener('peerleft', ({ detail }) => {
      this.requests.delete(detail.peerId);
      this.render();
    });
    webinar.onServerEvent('cohost:request', ({ peer_id: peerId, name }) => {
      this.requests.set(peerId, name);
      this.render();
      this.say(`${name} raised their hand to present.`);
    });
    webinar.onServerEvent('participant:removed', ({ name, by }) => this.say(`${by} removed ${name}.`));
  }

  render() {
    this.requestSection.hidden = this.requests.size === 0;
    this.requestList.replaceChildren(
      ...[...this.requests].map(([peerId, name]) =>
        item(name, 'wants to present', [
          button('Approve', `Approve ${name} as a co-host`, () => this._answer(peerId, true), this._fail),
          button('Deny', `Deny ${name}'s request`, () => this._answer(peerId, false), this._fail),
        ]),
      ),
    );
    const host = this.webinar.me?.role === 'host';
    this.list.replaceChildren(
      ...[...this.webinar.peers.values()].map((peer) => {
        const name = peer.name || 'Guest';
        const actions = [];
        if (host && peer.role !== 'viewer') {
          actions.push(button('Mute', `Mute ${name}`, () => this.webinar.muteParticipant(peer.peerId), this._fail));
        }
        if (host && peer.role === 'co-host') {
          actions.push(
            button('Demote', `Make ${name} a viewer again`, () =>
              this.webinar.request('cohost:demote', { peer_id: peer.peerId }),
            this._fail),
          );
        }
        if (host) actions.push(button('Remove', `Remove ${name}`, () => this.webinar.removeParticipant(peer.peerId), this._fail));
        const row = item(name, peer.role, actions);
        row.dataset.peerId = peer.peerId;
        row.dataset.role = peer.role;
        return row;
      }),
    );
  }

  async _answer(peerId, approved) {
    this.requests.delete(peerId);
    this.render();
    await this.webinar.request('cohost:respond', { peer_id: peerId, approved });
  }
}

function item(name, role, actions) {
  const row = document.createElement('li');
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = name;
  const what = document.createElement('span');
  what.className = 'role';
  what.textContent = ` (${role})`;
  row.append(who, what, ...actions);
  return row;
}

function button(label, accessibleName, action, fail = console.warn) {
  const element = document.createElement('button');
  element.type = 'button';
  element.className = 'quiet';
  element.textContent = label;
  element.setAttribute('aria-label', accessibleName);
  element.addEventListener('click', async () => {
    element.disabled = true;
    try {
      await action();
    } catch (error) {
      fail(error.reason ?? error.message);
    } finally {
      element.disabled = false;
    }
  });
  return element;
}
