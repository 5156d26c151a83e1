"""What each action of the audit log is called in Chinese, for the office's pages: the log stores
the code (stable, for scripts and for `jifen audit verify`), the pages show the words beside it.
A test finds every action the code records and requires its words here."""

from __future__ import annotations

ACTION_NAMES: dict[str, str] = {
    # accounts and sessions
    "login.success": "登录成功",
    "login.password": "密码正确，待输入动态验证码",
    "login.failure": "登录失败",
    "session.end": "退出登录",
    "user.create": "新建账号",
    "user.deactivate": "停用账号",
    "user.reset": "重置密码",
    "user.password": "修改密码",
    "user.assign": "调整镇街或部门",
    "user.totp": "启用动态验证码",
    "access.refused": "拒绝越权访问",
    # applications
    "application.import": "批量导入申请",
    "application.create": "受理申请",
    "application.correct": "更正申请信息",
    "application.choices": "修改志愿",
    "application.hold": "开始办理",
    "application.release": "结束办理",
    "application.return": "退回补正",
    "application.score": "重新计分",
    "applicant.unmask": "查看完整个人信息",
    "import.report": "下载导入报告",
    "import.queued": "大文件导入排队",
    # verification by the departments
    "fact.confirm": "核验：确认",
    "fact.correct": "核验：更正",
    "fact.reject": "核验：不予认定",
    "fact.change.request": "申请修改已核验事项",
    "fact.change.approve": "批准修改已核验事项",
    "fact.change.refuse": "驳回修改已核验事项",
    "exchange.read": "部门接口读取",
    "exchange.settle": "部门接口提交核验结果",
    "token.issue": "签发部门接口令牌",
    "token.revoke": "吊销部门接口令牌",
    "exchange.refused": "部门接口提交被退回",
    "token.refused": "部门接口令牌被拒绝",
    # the annual round, 公示 and objections
    "round.create": "创建轮次",
    "round.edit": "修改轮次配置",
    "round.export": "导出分配数据",
    "round.allocate.queued": "分配排队",
    "round.allocate": "执行分配",
    "round.publish": "开始公示",
    "round.finalize": "完成本轮",
    "objection.file": "提出异议",
    "objection.maintained": "异议答复：维持原结果",
    "objection.corrected": "异议答复：已更正",
    "status.view": "申请人查询进度",
    "status.failure": "申请人查询未通过",
    # certificates
    "certificate.key": "生成签名密钥",
    "certificate.issue": "签发通知书",
    "certificate.print.queued": "打印通知书排队",
    "certificate.print": "打印通知书",
    "certificate.reprint": "补发通知书",
    "certificate.download": "下载通知书",
    "certificate.revoke": "撤销通知书",
    "certificate.use": "登记通知书使用",
    "certificate.verify": "核验通知书",
}


def action_name(code: str) -> str:
    """The words for an action; an action without words yet shows its code."""
    return ACTION_NAMES.get(code, code)
