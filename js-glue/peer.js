// peer.js -- one WebRTC connection to one remote pubkey: offer/answer and
// trickle ICE through the signaling client, glare resolved by the
// perfect-negotiation pattern, one ordered DataChannel "hiroba" carrying
// framed protocol frames (framing.js), ICE restart after a failure.
//
// Roles: the side with the lower pubkey is "polite" (it yields when both
// offer at once). The channel is negotiated out of band (id 0), so both
// sides create it and neither waits for ondatachannel.
//
// Without signaling (signal: null, pairing by copy/paste, pair.js) the
// caller exchanges the whole descriptions itself, candidates included
// (Vanilla ICE): nothing is trickled or renegotiated, so an ICE failure
// cannot be restarted, and the open timer starts when the caller says
// (armOpenTimer), since a human carries the answer back.
//
// States (peer.state): 'connecting' -> 'open' -> 'closing' -> 'closed';
// peer.route: 'direct' | 'relayed' (through TURN) once known.

import { FramedChannel } from './framing.js';

const OPEN_TIMEOUT_MS = 30_000;     // connecting longer than this fails
const DISCONNECTED_GRACE_MS = 4_000; // 'disconnected' often heals alone
const MAX_ICE_RESTARTS = 3;

export class Peer {
  // remote: the other pubkey; self: ours. signal(data) sends
  // {sdp} / {candidate} to the remote through signaling.
  constructor({ remote, self, signal, RTCPeerConnection = globalThis.RTCPeerConnection,
    iceServers = [], iceTransportPolicy = 'all', onFrame, onState, onError }) {
    this.pubkey = remote;
    this.polite = self < remote;
    this.signal = signal;
    this.onFrame = onFrame ?? (() => {});
    this.onState = onState ?? (() => {});
    this.onError = onError ?? (() => {});
    this.state = 'connecting';
    this.route = null;
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.restarts = 0;
    this.vanilla = !signal;
    this.unreachable = this.vanilla; // no signaling (left, or none): no renegotiation possible
    this.pendingCandidates = [];
    this.pc = new RTCPeerConnection({ iceServers, iceTransportPolicy });
    this.channel = this.pc.createDataChannel('hiroba', { negotiated: true, id: 0, ordered: true });
    this.framed = new FramedChannel(this.channel, {
      onFrame: (text) => this.onFrame(text),
      onError: (err) => this.onError(err),
    });
    this.opened = new Promise((resolve, reject) => { this._open = resolve; this._fail = reject; });
    this.opened.catch(() => {}); // observed through send() / state
    this.channel.addEventListener('open', () => {
      this._setState('open');
      this._open();
      this._learnRoute();
    });
    this.channel.addEventListener('close', () => this.close());
    this.gathered = new Promise((resolve) => { this._gathered = resolve; });
    this.pc.onicecandidate = ({ candidate }) => {
      if (!candidate || this.pc.iceGatheringState === 'complete') this._gathered();
      if (candidate && !this.vanilla) this._signal({ candidate: candidate.toJSON ? candidate.toJSON() : candidate });
    };
    this.pc.onicegatheringstatechange = () => {
      if (this.pc.iceGatheringState === 'complete') this._gathered();
    };
    // Both sides create the negotiated channel, so both would offer at
    // once on every connect. The polite side lets the other offer first
    // and offers itself only once a session exists (ICE restarts).
    this.pc.onnegotiationneeded = () => {
      if (this.vanilla) return; // the caller makes the one offer
      if (this.polite && !this.pc.remoteDescription) return;
      this._offer();
    };
    this.pc.oniceconnectionstatechange = () => this._iceState();
    this.openTimer = null;
    if (!this.vanilla) this.armOpenTimer(OPEN_TIMEOUT_MS);
  }

  // Fails the connection if it is not open within ms from now.
  armOpenTimer(ms) {
    clearTimeout(this.openTimer);
    this.openTimer = setTimeout(() => {
      if (this.state === 'connecting') this._failOpen(new Error('hiroba: the peer connection did not open in time'));
    }, ms);
    this.openTimer.unref?.();
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.onState(state);
  }

  _signal(data) {
    Promise.resolve(this.signal(data)).catch((err) => this.onError(err));
  }

  async _offer(options) {
    try {
      this.makingOffer = true;
      const offer = await this.pc.createOffer(options);
      if (this.pc.signalingState !== 'stable') return; // an offer came in meanwhile
      await this.pc.setLocalDescription(offer);
      this._signal({ sdp: { type: this.pc.localDescription.type, sdp: this.pc.localDescription.sdp } });
    } catch (err) {
      // An offer from the other side landed while ours was being made:
      // that is glare, which receive() resolves; not an error to report.
      if (this.pc.signalingState === 'stable' && this.state !== 'closed') this.onError(err);
    } finally {
      this.makingOffer = false;
    }
  }

  // Handles {sdp} or {candidate} from the remote (perfect negotiation).
  async receive(data) {
    if (this.state === 'closed' || !data || typeof data !== 'object') return;
    try {
      if (data.sdp && typeof data.sdp === 'object') {
        const description = data.sdp;
        if (description.type !== 'offer' && description.type !== 'answer') return;
        const collision = description.type === 'offer' &&
          (this.makingOffer || this.pc.signalingState !== 'stable');
        this.ignoreOffer = !this.polite && collision;
        if (this.ignoreOffer) return;
        if (collision) await this.pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
        await this.pc.setRemoteDescription(description);
        for (const c of this.pendingCandidates.splice(0)) await this.pc.addIceCandidate(c).catch(() => {});
        if (description.type === 'offer') {
          await this.pc.setLocalDescription(await this.pc.createAnswer());
          this._signal({ sdp: { type: this.pc.localDescription.type, sdp: this.pc.localDescription.sdp } });
        }
      } else if (data.candidate && typeof data.candidate === 'object') {
        if (!this.pc.remoteDescription) {
          this.pendingCandidates.push(data.candidate);
          return;
        }
        try {
          await this.pc.addIceCandidate(data.candidate);
        } catch (err) {
          if (!this.ignoreOffer) throw err;
        }
      }
    } catch (err) {
      this.onError(err);
    }
  }

  _iceState() {
    const s = this.pc.iceConnectionState;
    clearTimeout(this.graceTimer);
    if (s === 'failed') this._restartIce();
    else if (s === 'disconnected') {
      this.graceTimer = setTimeout(() => this._restartIce(), DISCONNECTED_GRACE_MS);
      this.graceTimer.unref?.();
    } else if (s === 'connected' || s === 'completed') this._learnRoute();
  }

  // The remote left the signaling server. A connection that works keeps
  // working without it; one that is still connecting, or has lost its
  // path, cannot be renegotiated any more, so it closes now instead of
  // waiting out ICE restarts that cannot reach the other side.
  signalingGone() {
    this.unreachable = true;
    const ice = this.pc.iceConnectionState;
    if (this.state === 'connecting' || ice === 'disconnected' || ice === 'failed' || ice === 'closed') this.close();
  }

  // The remote is on the signaling server again: renegotiation can reach it.
  signalingBack() {
    this.unreachable = false;
  }

  _restartIce() {
    if (this.state === 'closed' || this.state === 'closing') return;
    if (this.unreachable) {
      // A paired side that answered may see its checks fail until the
      // inviter applies the answer; the open timer decides there.
      if (!(this.vanilla && this.state === 'connecting')) this.close();
      return;
    }
    if (this.restarts++ >= MAX_ICE_RESTARTS) {
      this.onError(new Error('hiroba: the connection failed and ICE restarts did not help'));
      this.close();
      return;
    }
    if (typeof this.pc.restartIce === 'function') this.pc.restartIce();
    else this._offer({ iceRestart: true });
  }

  // direct or relayed (TURN), from the selected candidate pair.
  async _learnRoute() {
    try {
      const stats = await this.pc.getStats();
      let pair = null;
      stats.forEach((r) => {
        if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId);
      });
      if (!pair) stats.forEach((r) => { if (r.type === 'candidate-pair' && (r.selected || r.nominated) && r.state === 'succeeded') pair = r; });
      if (!pair) return;
      const local = stats.get(pair.localCandidateId);
      const remote = stats.get(pair.remoteCandidateId);
      const relayed = local?.candidateType === 'relay' || remote?.candidateType === 'relay';
      const route = relayed ? 'relayed' : 'direct';
      if (route !== this.route) {
        this.route = route;
        this.onState(this.state);
      }
    } catch { /* stats are best effort */ }
  }

  _failOpen(err) {
    this._fail(err);
    this.onError(err);
    this.close();
  }

  // Sends one frame; waits for the channel to open first.
  async send(frame) {
    if (this.state === 'connecting') await this.opened;
    if (this.state !== 'open') throw new Error(`hiroba: the connection to ${this.pubkey.slice(0, 8)}… is ${this.state}`);
    return this.framed.send(frame);
  }

  close() {
    if (this.state === 'closed') return;
    this._setState('closing');
    clearTimeout(this.openTimer);
    clearTimeout(this.graceTimer);
    this._fail(new Error('hiroba: the connection closed'));
    try { this.channel.close(); } catch { /* ignore */ }
    try { this.pc.close(); } catch { /* ignore */ }
    this._setState('closed');
  }
}
