// Draws one plotly figure into the page's own DOM with plotly.js's basic bundle (scatter and bar,
// sliders, buttons, frames), which the app serves itself (static/, `server.enableStaticServing`):
// a quarter of the size of the bundle behind st.plotly_chart. A new figure for the same element is
// Plotly.react on the same div, not a new chart mounted and laid out from nothing.
let loading = null;

// The bundle, loaded once per page; a failed load is forgotten, so the next figure tries again.
function plotly(source) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      const failed = () => {
        script.remove();
        loading = null;
        reject(new Error(`${source} did not load`));
      };
      script.src = source;
      script.onload = () => (window.Plotly ? resolve(window.Plotly) : failed());
      script.onerror = failed;
      document.head.appendChild(script);
    });
  }
  return loading;
}

// A new figure stops the old one's animation first: it would go on playing the new frames from
// wherever it was, not from the step the new figure stands at.
function stopped(Plotly, div) {
  const playing = div._transitionData && div._transitionData._animationRaf;
  return playing
    ? Plotly.animate(div, [null], { mode: "immediate", frame: { duration: 0, redraw: false },
                                    transition: { duration: 0 } })
    : Promise.resolve();
}

// The div's width, followed: a column, a scrollbar, a tab or expander opened, or the window can
// change it (plotly.js's own `responsive` follows the window only).
function followWidth(Plotly, div) {
  if (div.widthObserver) return;
  let width = div.clientWidth;
  div.widthObserver = new ResizeObserver(() => {
    if (div.clientWidth === width || div.clientWidth === 0 || !div._fullLayout) return;
    width = div.clientWidth;
    Plotly.Plots.resize(div).catch(() => {});   // hidden again meanwhile: the next change redraws it
  });
  div.widthObserver.observe(div);
}

// What went wrong, as text beside the plot (never markup, and never inside plotly's own nodes).
function say(div, words) {
  let note = div.parentElement.querySelector(":scope > .figure-failed");
  if (!note) {
    note = document.createElement("p");
    note.className = "figure-failed";
    div.parentElement.insertBefore(note, div);
  }
  note.textContent = words;
}

// Whether the div is on screen, followed; `div.pending`, a drawing put off until it is.
function followSeen(div) {
  if (div.seenObserver) return;
  div.seenObserver = new IntersectionObserver((entries) => {
    div.seen = entries[entries.length - 1].isIntersecting;
    if (div.seen && div.pending) {
      const drawNow = div.pending;
      div.pending = null;
      drawNow();
    }
  });
  div.seenObserver.observe(div);
}

// One drawing at a time per div, in the order Streamlit sent the figures; none once it is gone.
function draw(div, parentElement, { figure, config, failed, source }) {
  div.drawing = (div.drawing || Promise.resolve())
    .then(() => plotly(source))
    .then((Plotly) => {
      if (div.gone) return null;
      return stopped(Plotly, div)
        .then(() => Plotly.react(div, { data: figure.data, layout: figure.layout,
                                        frames: figure.frames || [], config }))
        .then(() => {
          div.style.minHeight = "";
          const note = parentElement.querySelector(":scope > .figure-failed");
          if (note) note.remove();
          if (!div.gone) followWidth(Plotly, div);
        });
    })
    .catch((error) => {
      if (window.Plotly && div._fullLayout) window.Plotly.purge(div);
      say(div, failed.replace("{error}", () => error.message));
    });
}

export default function (component) {
  const { data, parentElement } = component;
  let div = parentElement.querySelector(":scope > .app-figure");
  if (!div) {
    div = document.createElement("div");
    div.className = "app-figure";
    div.style.overflow = "hidden";
    parentElement.appendChild(div);
  }
  const { figure, config, failed, source, whenSeen } = JSON.parse(new TextDecoder().decode(data));
  if (!div._fullLayout && figure.layout && figure.layout.height) {
    div.style.minHeight = `${figure.layout.height}px`;   // the page does not shift while plotly.js loads
  }
  const drawNow = () => draw(div, parentElement, { figure, config, failed, source });
  // A figure below the first screen (`whenSeen`) is drawn once it is on screen: not in the middle of a
  // control's change, while the stand above is being redrawn. Only its latest figure is kept.
  if (whenSeen) {
    followSeen(div);
    div.pending = div.seen ? null : drawNow;
    if (div.seen) drawNow();
  } else {
    drawNow();
  }
  return () => {
    div.gone = true;
    div.pending = null;
    if (div.widthObserver) div.widthObserver.disconnect();
    if (div.seenObserver) div.seenObserver.disconnect();
    div.widthObserver = null;
    div.seenObserver = null;
    if (window.Plotly) window.Plotly.purge(div);
  };
}
