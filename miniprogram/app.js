App({
  globalData: {
    liveness: null // lib/handoff.js: the opener's event channel and the page parameters
  }
});
