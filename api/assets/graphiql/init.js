// Starts GraphiQL against this server's endpoint; every asset is served locally.
(function () {
  var fetcher = GraphiQL.createFetcher({ url: window.location.origin + "/graphql" });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      defaultQuery:
        "# Services of the MeLT network: try filters such as\n" +
        "# { search: \"citta\", languages: [\"ar\"], hasOpenPlaces: true }\n" +
        "query Services {\n  services(first: 10) {\n    totalCount\n    nodes {\n      name\n      status\n      provider { name }\n      serviceTypes { code label }\n    }\n  }\n}\n",
    })
  );
})();
