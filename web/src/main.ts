import "./style.css";
import { onAuthNeeded, setToken, token } from "./api";
import { h } from "./dom";
import { diffPage } from "./pages/diff";
import { healthPage } from "./pages/health";
import { nodePage } from "./pages/node";
import { runPage } from "./pages/run";
import { searchPage } from "./pages/search";
import { fallback, render, route, start } from "./router";

route(/^\/ui$/, searchPage);
route(/^\/ui\/search$/, searchPage);
route(/^\/ui\/node$/, nodePage);
route(/^\/ui\/run\/[^/]+$/, runPage);
route(/^\/ui\/diff$/, diffPage);
route(/^\/ui\/health$/, healthPage);
fallback((app, url) => {
  app.append(h("h1", {}, "No such page"), h("p", {}, `Nothing lives at ${url.pathname}.`));
});

// With `threadline serve --auth`, the API wants a token: ask for one when it says so.
const tokenForm = document.getElementById("token-form") as HTMLFormElement | null;
if (tokenForm) {
  if (token()) tokenForm.hidden = false;
  onAuthNeeded(() => {
    tokenForm.hidden = false;
  });
  tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    setToken(String(new FormData(tokenForm).get("token") ?? "").trim());
    void render();
  });
}

start();
