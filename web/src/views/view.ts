/** A rendered view: its element, a refresh for the live poller, and clean-up. */
export interface View {
  el: HTMLElement;
  /** Re-reads what the view shows (called by the poller; must update in place). */
  refresh(): Promise<void>;
  /** Poll period in ms (0: no polling). */
  pollMs: number;
  dispose(): void;
}
