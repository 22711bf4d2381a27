// The guide's docsify settings: a file, not an inline script, so the page's Content-Security-Policy
// needs no exception for it (docs/operations.md).
window.$docsify = {
  name: 'Haunt Paper Trading',
  loadSidebar: true,
  subMaxLevel: 2,
  auto2top: true,
  relativePath: false,
  // :name: stays text: emoji would be images from GitHub, and the guide works offline.
  noEmoji: true,
  search: {depth: 3, placeholder: 'Search the guide', noData: 'Nothing found'},
};
