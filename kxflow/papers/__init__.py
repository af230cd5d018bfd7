"""Papers: what a user prints, stamps and files — the 申报书 of an application as submitted, the expert review
summary, a call's 公示名单 and 命名名单 (PDF, WeasyPrint) — and the long exports that run in the background
(the nation over several calls, as XLSX), with their progress and download."""
