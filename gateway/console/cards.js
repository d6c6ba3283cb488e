// Proposal cards: one `article` per proposal, named after its tool.
//
// A card is a view: built once per proposal, then drawn by `render(card, now)`
// from its state in store.js (`{proposal, deciding, note}`). It shows the tool,
// its tier, the preview, a status text (the proposal's status, as the API spells
// it), the server's `hint` for that state and the server's `approval_text` (who
// requested it, who approved it, "1 of 2 approvals", who may still approve). Its
// Confirm and Reject buttons show while the proposal is PENDING and not `final`,
// enabled while the server says `can_approve` and no decision is on its way (a
// click calls `actions.decide`, which changes the state; the server executes a
// proposal once anyway). A PENDING card with an `expires_at` counts down to it. A
// FAILED card gives the reason from its `result`. No rule of the server is copied
// here: the server says what the card shows.

import { duration, el, setText, show, uid } from "./dom.js";

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

function failureReason(result) {
  if (result && typeof result === "object" && typeof result.error === "string") return result.error;
  return result === null || result === undefined ? "no reason given" : JSON.stringify(result);
}

export class ProposalCard {
  /**
   * The card of `proposal` (its tool, tier, preview and dependencies never change),
   * drawn at once. actions: {decide(id, "confirm"|"reject")}.
   */
  constructor(proposal, actions) {
    this.id = proposal.proposal_id;
    const titleId = uid("card-title");
    const tierId = uid("card-tier");
    this.statusNode = el("span", { role: "status", class: "status" });
    this.hintNode = el("span", { class: "hint" });
    this.countdownNode = el("span", { class: "countdown" });
    this.resultBox = el("div", { class: "result-box" });
    this.noteNode = el("p", { class: "note" });
    this.whoNode = el("p", { class: "approvals" });
    this.confirmButton = el("button", { type: "button", class: "primary" }, "Confirm");
    this.rejectButton = el("button", { type: "button" }, "Reject");
    this.confirmButton.addEventListener("click", () => actions.decide(this.id, "confirm"));
    this.rejectButton.addEventListener("click", () => actions.decide(this.id, "reject"));
    this.actionsNode = el("div", { class: "actions" }, this.confirmButton, this.rejectButton);
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
      proposal.depends_on?.length
        ? el("p", { class: "depends" }, `Runs after: ${proposal.depends_on.join(", ")}`)
        : null,
      this.actionsNode,
      this.resultBox,
      this.noteNode,
    );
    this.shown = null; // the proposal whose result is drawn
    this.render({ proposal, deciding: false, note: "" }, Date.now() / 1000);
  }

  /** Draw the card's state at `now` (seconds). */
  render({ proposal: p, deciding, note }, now) {
    const pending = p.status === "PENDING";
    setText(this.statusNode, p.status);
    if (this.statusNode.className !== `status s-${p.status}`) this.statusNode.className = `status s-${p.status}`;
    this.node.dataset.status = p.status;
    this.node.dataset.awaiting = p.awaiting ?? "";
    setText(this.hintNode, p.hint ?? "");
    setText(this.whoNode, p.approval_text ?? "");
    if (this.shown?.status !== p.status || this.shown?.result !== p.result) {
      this.resultBox.replaceChildren();
      if (p.status === "EXECUTED" && p.result !== null && p.result !== undefined) {
        this.resultBox.append(el("p", { class: "result-title" }, "Result:"), resultNode(p.result));
      } else if (p.status === "FAILED") {
        this.resultBox.append(el("p", { class: "reason" }, `Reason: ${failureReason(p.result)}`));
      }
    }
    this.shown = p;
    let countdown = "";
    if (pending && !p.final && p.expires_at) {
      const left = p.expires_at - now;
      countdown = left > 0 ? `Expires in ${duration(left)}.` : "Expiring now.";
    }
    setText(this.countdownNode, countdown);
    show(this.actionsNode, pending && !p.final); // a decided card has nothing to click
    const enabled = pending && !deciding && p.can_approve !== false;
    this.confirmButton.disabled = !enabled;
    this.rejectButton.disabled = !enabled;
    setText(this.noteNode, note);
  }
}
