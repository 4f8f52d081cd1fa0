// Draws one plotly figure into the page's own DOM with plotly.js's basic bundle (scatter and bar,
// sliders, buttons, frames), which the app serves itself (static/, `server.enableStaticServing`):
// a quarter of the size of the bundle behind st.plotly_chart. A new figure for the same element is
// Plotly.react on the same div, not a new chart mounted and laid out from nothing.
const SOURCE = "app/static/plotly-basic.min.js";
let loading = null;

function plotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = SOURCE;
      script.onload = () => resolve(window.Plotly);
      script.onerror = () => { loading = null; reject(new Error(`${SOURCE} did not load`)); };
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

// The div's width, followed: a column, a scrollbar or the window can change it (plotly.js's own
// `responsive` follows the window only).
function followWidth(Plotly, div) {
  if (div.widthObserver) return;
  let width = div.clientWidth;
  div.widthObserver = new ResizeObserver(() => {
    if (div.clientWidth !== width && div._fullLayout) {
      width = div.clientWidth;
      Plotly.Plots.resize(div);
    }
  });
  div.widthObserver.observe(div);
}

export default function (component) {
  const { data, parentElement } = component;
  let div = parentElement.querySelector(":scope > .stand-figure");
  if (!div) {
    div = document.createElement("div");
    div.className = "stand-figure";
    parentElement.appendChild(div);
  }
  const { figure, config, failed } = JSON.parse(new TextDecoder().decode(data));
  // One drawing at a time per div, in the order Streamlit sent the figures.
  div.drawing = (div.drawing || Promise.resolve())
    .then(plotly)
    .then((Plotly) => stopped(Plotly, div).then(() =>
      Plotly.react(div, { data: figure.data, layout: figure.layout, frames: figure.frames || [],
                          config })
    ).then(() => followWidth(Plotly, div)))
    .catch((error) => {
      div.textContent = failed.replace("{error}", error.message);   // text, never markup
    });
  return () => {
    if (div.widthObserver) div.widthObserver.disconnect();
    if (window.Plotly) window.Plotly.purge(div);
  };
}
