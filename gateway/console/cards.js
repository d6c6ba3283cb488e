// Proposal cards: one `article` per proposal, named after its tool.
//
// A card shows the tool, its tier, the preview and a status text (the
// proposal's status, as the API spells it). T2 and T3 cards have Confirm and
// Reject buttons, disabled on the first click (the server executes a proposal
// once anyway: a second confirm is a 409 carrying the status, shown on the
// card) and gone once the proposal is decided, so nobody has to guess what a
// message will do. After a click the card scrolls into view, so its result
// shows. A T2 card also says that a clear yes confirms it and counts down to
// `expires_at`; when the last message did not answer it clearly (`awaiting:
// "clear_answer"`) it says "Waiting for a clear yes or no". A FAILED card gives the reason from its `result`, and says
// when the outcome is unknown (the tool may have acted). Updates never move a
// card back: a stale answer that says PENDING after EXECUTED is ignored.
// Every card says who requested it, who approved it and what is still needed
// ("1 of 2 approvals"); its buttons are off for a caller who may not approve.

import { duration, el, setText, uid } from "./dom.js";

const RANK = { PENDING: 0, CONFIRMED: 1, REJECTED: 2, EXPIRED: 2, EXECUTED: 2, FAILED: 2 };

const HINTS = {
  CONFIRMED: "Confirmed: running now.",
  EXECUTED: "Done.",
  FAILED: "It did not run.",
  REJECTED: "Rejected: it will not run.",
  EXPIRED: "Expired: no reply came within the confirmation window.",
};

const AWAITING_HINT = "Waiting for a clear yes or no.";

function pendingHint(p) {
  if (p.tier === "T3") return "Needs your explicit confirmation: Confirm runs it, Reject drops it.";
  if (p.awaiting === "clear_answer") return `${AWAITING_HINT} Confirm and Reject decide it now.`;
  return "A clear yes in your next message confirms it, a no drops it; or use Confirm or Reject.";
}

function resultNode(result) {
  if (result && typeof result === "object" && !Array.isArray(result)) {
    const list = el("dl", { class: "result" });
    for (const [name, value] of Object.entries(result)) {
      list.append(el("dt", {}, name), el("dd", {}, typeof value === "string" ? value : JSON.stringify(value)));
    }
    return list;
  }
  return el("pre", { class: "result" }, JSON.stringify(result));
}

// A FAILED proposal's `result` is {"error", "error_kind"}; `outcome_unknown`:
// the call was cut short and the tool may have acted (a person reconciles it).
const OUTCOME_UNKNOWN_HINT = "Outcome unknown: it may have run; check before retrying.";

function hintOf(p) {
  if (p.status === "PENDING") return pendingHint(p);
  if (p.status === "FAILED" && p.result?.error_kind === "outcome_unknown") return OUTCOME_UNKNOWN_HINT;
  return HINTS[p.status] || "";
}

function whoOf(actor) {
  return actor ? `${actor.principal} (${actor.role})` : "unknown";
}

/** "Requested by ann (subject). Approved by bob (staff). 1 of 2 approvals." */
export function approvalText(p) {
  const parts = [`Requested by ${whoOf(p.requested_by)}.`];
  const approvals = p.approvals || [];
  if (approvals.length) parts.push(`Approved by ${approvals.map((a) => `${a.by} (${a.role})`).join(", ")}.`);
  const needs = p.needs;
  if (needs && (needs.quorum > 1 || approvals.length)) parts.push(`${needs.have} of ${needs.quorum} approvals.`);
  if (needs && p.status === "PENDING") {
    const others = needs.self_approval ? "" : ", not the requester";
    parts.push(`Who may approve: ${needs.approvers.join(", ")}${others}.`);
  }
  return parts.join(" ");
}

function failureReason(result) {
  if (result && typeof result === "object" && typeof result.error === "string") return result.error;
  return result === null || result === undefined ? "no reason given" : JSON.stringify(result);
}

export class ProposalCard {
  /**
   * actions: {decide(id, "confirm"|"reject") -> Promise<proposal>,
   *           refresh() -> void, changed() -> void}
   */
  constructor(proposal, actions) {
    this.proposal = proposal;
    this.actions = actions;
    this.deciding = false;
    const titleId = uid("card-title");
    const tierId = uid("card-tier");
    this.statusNode = el("span", { role: "status", class: "status" });
    this.hintNode = el("span", { class: "hint" });
    this.countdownNode = el("span", { class: "countdown" });
    this.resultBox = el("div", { class: "result-box" });
    this.noteNode = el("p", { class: "note" });
    this.whoNode = el("p", { class: "approvals" });
    this.node = el(
      "article",
      {
        class: `card tier-${proposal.tier}`,
        "aria-labelledby": `${titleId} ${tierId}`,
        "data-proposal-id": proposal.proposal_id,
      },
      el(
        "header",
        {},
        el("h3", { id: titleId }, proposal.tool),
        el("span", { id: tierId, class: `badge tier-${proposal.tier}` }, proposal.tier),
      ),
      el("p", { class: "preview" }, proposal.preview),
      el("p", { class: "status-line" }, "Status: ", this.statusNode),
      this.whoNode,
      el("p", { class: "hint-line" }, this.hintNode, " ", this.countdownNode),
      this.resultBox,
      this.noteNode,
    );
    if (proposal.depends_on?.length) {
      this.node.insertBefore(
        el("p", { class: "depends" }, `Runs after: ${proposal.depends_on.join(", ")}`),
        this.resultBox,
      );
    }
    if (proposal.tier === "T2" || proposal.tier === "T3") {
      this.confirmButton = el("button", { type: "button", class: "primary" }, "Confirm");
      this.rejectButton = el("button", { type: "button" }, "Reject");
      this.confirmButton.addEventListener("click", () => this.decide("confirm"));
      this.rejectButton.addEventListener("click", () => this.decide("reject"));
      this.actionsNode = el("div", { class: "actions" }, this.confirmButton, this.rejectButton);
      this.node.insertBefore(this.actionsNode, this.resultBox);
    }
    this.render();
  }

  get id() {
    return this.proposal.proposal_id;
  }

  get pending() {
    return this.proposal.status === "PENDING";
  }

  /** Take a newer view of the proposal; returns whether its status changed. */
  update(proposal) {
    const before = this.proposal.status;
    if ((RANK[proposal.status] ?? 0) < (RANK[before] ?? 0)) return false;
    this.proposal = { ...this.proposal, ...proposal };
    this.render();
    return this.proposal.status !== before;
  }

  render() {
    const p = this.proposal;
    setText(this.statusNode, p.status);
    this.statusNode.className = `status s-${p.status}`;
    this.node.dataset.status = p.status;
    this.node.dataset.awaiting = p.status === "PENDING" && p.awaiting ? p.awaiting : "";
    setText(this.hintNode, hintOf(p));
    setText(this.whoNode, approvalText(p));
    this.resultBox.replaceChildren();
    if (p.status === "EXECUTED" && p.result !== null && p.result !== undefined) {
      this.resultBox.append(el("p", { class: "result-title" }, "Result:"), resultNode(p.result));
    } else if (p.status === "FAILED") {
      this.resultBox.append(el("p", { class: "reason" }, `Reason: ${failureReason(p.result)}`));
    }
    if (!this.pending) setText(this.countdownNode, "");
    if (this.confirmButton) {
      this.setButtons(this.pending && !this.deciding && p.can_approve !== false);
      this.actionsNode.hidden = !this.pending; // a finished card has nothing to click
    }
    this.tick(Date.now() / 1000);
  }

  setButtons(enabled) {
    this.confirmButton.disabled = !enabled;
    this.rejectButton.disabled = !enabled;
  }

  note(text) {
    setText(this.noteNode, text);
  }

  /** Update the countdown; true when a PENDING window has run out (time to refresh). */
  tick(now) {
    const p = this.proposal;
    if (p.status !== "PENDING" || p.tier === "T3" || !p.expires_at) return false;
    const left = p.expires_at - now;
    setText(this.countdownNode, left > 0 ? `Expires in ${duration(left)}.` : "Expiring now.");
    return left <= 0;
  }

  async decide(verb) {
    if (this.deciding || !this.pending) return;
    this.deciding = true; // before any await: a double click sends one request
    this.setButtons(false);
    this.note(verb === "confirm" ? "Confirming..." : "Rejecting...");
    try {
      const after = await this.actions.decide(this.id, verb);
      this.update(after);
      this.note(after.status === "PENDING" ? "Approved: waiting for more approvals." : "");
    } catch (err) {
      if (err.status === 409 && err.error?.status) {
        this.note(`Already ${err.error.status}: ${err.message}.`);
        this.update({ status: err.error.status });
        this.actions.refresh();
      } else {
        this.note(`Could not ${verb}: ${err.message}.`);
        this.deciding = false;
        if (this.pending) this.setButtons(true);
      }
    } finally {
      this.actions.changed();
      this.node.scrollIntoView?.({ block: "nearest" }); // the result, or the note
    }
  }
}
